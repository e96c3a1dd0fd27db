"""The ``infodyn`` command line: run, list, plot, report, export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from infodyn.analysis import grokking_steps
from infodyn.config import ConfigError
from infodyn.experiments import experiment_names
from infodyn.export import export_scalars
from infodyn.report import write_report
from infodyn.rundir import NotARunDirectoryError, RunDir, list_runs
from infodyn.sweep.cli import sweep
from infodyn.viz import draw_run_figures

app = typer.Typer(
    name="infodyn",
    help="Measure, store and plot the information dynamics of neural-network training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


def _open_run(path: Path) -> RunDir:
    try:
        return RunDir.open(path)
    except NotARunDirectoryError as err:
        raise _fail(str(err)) from None


@app.command()
def run(
    experiment: Annotated[
        str, typer.Argument(help=f"one of: {', '.join(experiment_names())}")
    ] = "grokking",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="config override key=value (repeatable)")
    ] = None,
    out: Annotated[Path, typer.Option(help="parent directory of the new run directory")] = Path(
        "runs"
    ),
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the config's)")] = None,
    resume: Annotated[
        Path | None, typer.Option(help="continue this run directory from its last checkpoint")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Run an experiment (or resume one), then draw its figures and write its report."""
    from infodyn.runner import execute, prepare_run, reopen_run

    try:
        if resume is not None:
            if set_ or seed is not None:
                raise ConfigError(
                    "--resume continues with the run's saved config; drop --set/--seed"
                )
            run_dir, config = reopen_run(resume)
        else:
            run_dir, config = prepare_run(experiment, overrides=set_ or (), seed=seed, out=out)
    except (ConfigError, NotARunDirectoryError, FileExistsError) as err:
        raise _fail(str(err)) from None
    except ValueError as err:
        raise _fail(str(err)) from None
    console.print(f"run directory: [bold]{run_dir.root}[/]", highlight=False)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task(config.experiment, total=config.steps)

        def progress(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total)

        result = execute(run_dir, config, progress)
    _print_summary(result.run)
    typer.echo(f"run directory: {result.run.root}")
    for figure in result.figures:
        typer.echo(f"figure: {figure}")
    typer.echo(f"report: {result.report}")


def _print_summary(run_dir: RunDir) -> None:
    with run_dir.store(readonly=True) as store:
        steps = grokking_steps(store)
        meta = store.meta()
        table = Table(title=f"{run_dir.root.name}", show_header=False)
        for split in ("train", "test"):
            for metric in ("accuracy", "loss", "mir", "hdr"):
                if (metric, split) in {(m, s) for m, s, _ in store.keys()}:
                    values = store.series(metric, split)[1]
                    table.add_row(f"final {split} {metric}", f"{values[-1]:.4f}")
        table.add_row("train acc ≥ 0.99 at step", str(steps.fit_step))
        table.add_row("test acc ≥ 0.9 at step", str(steps.generalize_step))
        if steps.delay_ratio is not None:
            table.add_row("delay ratio", f"{steps.delay_ratio:.1f}×")
        for key in ("wall_time_s", "monitor_time_s"):
            if key in meta:
                table.add_row(key, f"{float(meta[key]):.1f}")
    console.print(table)


@app.command("list")
def list_(
    root: Annotated[Path, typer.Argument(help="directory holding run directories")] = Path("runs"),
) -> None:
    """List the runs under ROOT with their experiment, progress and final test accuracy."""
    if not root.is_dir():
        raise _fail(f"{root} is not a directory; pass the folder that holds run directories")
    table = Table(title=f"runs in {root}")
    table.add_column("run", no_wrap=True)
    for column in ("experiment", "steps", "test accuracy", "wall time (s)"):
        table.add_column(column)
    for run_dir in list_runs(root):
        with run_dir.store(readonly=True) as store:
            meta = store.meta()
            keys = {(m, s) for m, s, _ in store.keys()}
            acc = (
                f"{store.series('accuracy', 'test')[1][-1]:.4f}"
                if ("accuracy", "test") in keys
                else "-"
            )
        table.add_row(
            run_dir.root.name,
            str(run_dir.config().get("experiment", "?")),
            f"{meta.get('steps_completed', '-')}/{run_dir.config().get('steps', '?')}",
            acc,
            f"{float(meta['wall_time_s']):.1f}" if "wall_time_s" in meta else "-",
        )
    Console().print(table)


@app.command()
def plot(run_path: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")]) -> None:
    """Redraw every figure of RUN from its store."""
    for figure in draw_run_figures(_open_run(run_path)):
        typer.echo(f"figure: {figure}")


@app.command()
def report(
    run_path: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")],
) -> None:
    """Rewrite RUN's self-contained report.html."""
    typer.echo(f"report: {write_report(_open_run(run_path))}")


@app.command()
def export(
    run_path: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")],
    format_: Annotated[
        Literal["csv", "json"], typer.Option("--format", help="csv or json")
    ] = "csv",
) -> None:
    """Print every scalar record of RUN (columns step,split,metric,layer,value)."""
    with _open_run(run_path).store(readonly=True) as store:
        export_scalars(store, sys.stdout, format_)


app.command("sweep")(sweep)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
