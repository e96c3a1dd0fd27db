"""``infodyn sweep``: one experiment over a grid of config values × seeds.

Registered on the main app by ``app.command("sweep")(sweep)`` in :mod:`infodyn.cli`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infodyn.config import ConfigError
from infodyn.experiments import experiment_names
from infodyn.sweep.driver import run_sweep
from infodyn.sweep.manifest import MANIFEST_NAME, SweepManifest
from infodyn.sweep.plan import check_counts, check_parallelism, open_sweep, plan_sweep
from infodyn.sweep.progress import SweepProgress
from infodyn.sweep.tasks import Backend
from infodyn.sweep.worker import ERROR_NAME

__all__ = ["sweep"]

console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=2)


def _summary(out: Path, manifest: SweepManifest) -> None:
    table = Table(title=escape(f"sweep {out}"))
    for column in ("run", "state", "resumed from", "error"):
        table.add_column(column, no_wrap=column == "run")
    for run in manifest.runs:
        resumed = "-" if run.resumed_from is None else str(run.resumed_from)
        table.add_row(escape(run.name), run.state, resumed, escape(run.error or ""))
    console.print(table)


def sweep(
    experiment: Annotated[str, typer.Argument(help=f"one of: {', '.join(experiment_names())}")],
    out: Annotated[
        Path, typer.Option(help="the sweep folder: created, or re-used to resume this sweep")
    ],
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="swept config values KEY=V1,V2,… (repeatable)"),
    ] = None,
    seeds: Annotated[int, typer.Option(help="seeds per grid point")] = 1,
    seed_start: Annotated[int, typer.Option(help="first seed; seeds run from here up")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="config override KEY=VALUE shared by every run (repeatable)"),
    ] = None,
    backend: Annotated[
        Literal["local", "ray"], typer.Option(help="local process pool, or Ray tasks")
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(help="runs at once [default: cores // threads; ray: as Ray schedules]"),
    ] = None,
    threads: Annotated[int, typer.Option(help="torch threads per run")] = 1,
    ray_address: Annotated[
        str | None, typer.Option(help="join this Ray cluster instead of starting a local one")
    ] = None,
    allow_oversubscribe: Annotated[
        bool, typer.Option(help="allow workers × threads above this machine's cores")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no progress display")] = False,
) -> None:
    """Run EXPERIMENT for every grid point × seed, one run directory each, in parallel.

    Re-running the same command skips finished runs and resumes the others from their last
    checkpoint. Exits 1 when any run failed (each failure is in sweep.json and the run's
    error.txt).
    """
    cores = os.cpu_count() or 1
    try:
        if backend == "ray":
            from infodyn.sweep.ray_backend import require_ray

            require_ray()
        planned = plan_sweep(
            experiment,
            grid or (),
            seeds=seeds,
            seed_start=seed_start,
            overrides=set_ or (),
            threads=threads,
        )
        if ray_address is not None and backend != "ray":
            raise ConfigError("--ray-address joins a Ray cluster; pass it with --backend ray")
        if ray_address is not None:
            check_counts(workers, threads)  # the cluster's CPUs are Ray's to count
            processes = workers or 1
        else:
            processes = check_parallelism(
                workers, threads, cores, allow_oversubscribe=allow_oversubscribe
            )
        manifest = open_sweep(out, planned)
    except (ConfigError, ValueError) as err:
        raise _fail(str(err)) from None

    def make_backend() -> Backend:
        if backend == "local":
            from infodyn.sweep.local import LocalBackend

            return LocalBackend(processes, threads)
        from infodyn.sweep.ray_backend import RayBackend

        return RayBackend(
            threads=threads,
            workers=workers,
            address=ray_address,
            num_cpus=max(cores, processes * threads),
        )

    console.print(
        f"sweep folder: [bold]{escape(str(out))}[/] ({len(manifest.runs)} runs)", highlight=False
    )
    with SweepProgress(console, quiet=quiet) as display:
        try:
            manifest = run_sweep(out, manifest, make_backend, threads=threads, display=display)
        except ConfigError as err:
            raise _fail(str(err)) from None
    if not quiet:
        _summary(out, manifest)
    failed = [run for run in manifest.runs if run.state == "failed"]
    typer.echo(f"sweep: {out / MANIFEST_NAME}")
    typer.echo(f"runs: {len(manifest.runs) - len(failed)} finished, {len(failed)} failed")
    if failed:
        for run in failed:
            console.print(
                f"[bold red]failed:[/] {escape(f'{run.name}: {run.error}')} "
                f"(see {escape(str(out / run.name / ERROR_NAME))})",
                highlight=False,
            )
        console.print(
            f"[bold red]error:[/] {len(failed)} of {len(manifest.runs)} runs failed; re-run the "
            f"same command to retry them",
            highlight=False,
        )
        raise typer.Exit(code=1)
