"""The ``infodyn`` command line: run, sweep, compare, explain, list, plot, report, export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    Progress,
)
from rich.table import Table

from infodyn._progress import progress_columns
from infodyn.compare.cli import compare
from infodyn.config import ConfigError
from infodyn.experiments import experiment_names
from infodyn.explain_cli import explain
from infodyn.export import export_scalars
from infodyn.rundir import NotARunDirectoryError, RunDir, list_runs, new_run_dir
from infodyn.sinks.base import RecordSink
from infodyn.store import RunStore
from infodyn.summary import RunSummary
from infodyn.sweep.cli import sweep

app = typer.Typer(
    name="infodyn",
    help="Measure, store and plot the information dynamics of neural-network training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
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
    tensorboard: Annotated[
        Path | None,
        typer.Option(help="also write TensorBoard event files to DIR/<run name>", metavar="DIR"),
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option(
            help="also log to MLflow at this tracking URI (experiment: the experiment's name)",
            metavar="URI",
        ),
    ] = None,
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
    except (ValueError, FileExistsError) as err:  # ConfigError, NotARunDirectoryError, …
        raise _fail(str(err)) from None
    console.print(f"run directory: [bold]{run_dir.root}[/]", highlight=False)
    with Progress(*progress_columns(), console=console, disable=quiet) as bar:
        task = bar.add_task(config.experiment, total=config.steps)

        def progress(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total)

        sinks = _sinks(tensorboard, mlflow, run_dir.root.name, config.experiment)
        result = execute(run_dir, config, progress, sinks=sinks)
    _print_summary(result.run, result.summary)
    typer.echo(f"run directory: {result.run.root}")
    for figure in result.figures:
        typer.echo(f"figure: {figure}")
    typer.echo(f"report: {result.report}")


def _sinks(
    tensorboard: Path | None, mlflow: str | None, run_name: str, experiment: str
) -> list[RecordSink]:
    """The record sinks asked for on the command line (a missing package is a clear error)."""
    from infodyn.sinks import MLflowSink, TensorBoardSink

    sinks: list[RecordSink] = []
    try:
        if tensorboard is not None:
            sinks.append(TensorBoardSink(tensorboard / run_name))
        if mlflow is not None:
            sinks.append(MLflowSink(mlflow, experiment=experiment))
    except ImportError as err:
        raise _fail(str(err)) from None
    return sinks


def _final_scalars(store: RunStore, metrics: tuple[str, ...]) -> list[tuple[str, float]]:
    """``("final <split> <metric>", value)`` of each of ``metrics`` on each split stored."""
    keys = {(m, s) for m, s, _ in store.keys()}
    rows = []
    for split in ("train", "test"):
        for metric in metrics:
            if (metric, split) in keys:
                layers = sorted(lay for m, s, lay in store.keys() if (m, s) == (metric, split))
                value = float(store.series(metric, split, layers[0])[1][-1])
                rows.append((f"final {split} {metric}", value))
    return rows


def _print_summary(run_dir: RunDir, summary: RunSummary) -> None:
    with run_dir.store(readonly=True) as store:
        meta = store.meta()
        table = Table(title=f"{run_dir.root.name}", show_header=False)
        for label, value in _final_scalars(store, ("accuracy", "loss", "mir", "hdr")):
            table.add_row(label, f"{value:.4f}")
        for headline in summary.headlines:
            table.add_row(headline.label, headline.text())
        for key in ("wall_time_s", "monitor_time_s"):
            if key in meta:
                table.add_row(key, f"{float(meta[key]):.1f}")
    console.print(table)


@app.command("list")
def list_(
    root: Annotated[Path, typer.Argument(help="directory holding run directories")] = Path("runs"),
) -> None:
    """List the runs under ROOT: experiment, progress, final test accuracy, its headlines."""
    from infodyn.runner import summarize_run

    if not root.is_dir():
        raise _fail(f"{root} is not a directory; pass the folder that holds run directories")
    table = Table(title=f"runs in {root}")
    table.add_column("run", no_wrap=True)
    for column in ("experiment", "steps", "test accuracy", "wall time (s)"):
        table.add_column(column)
    table.add_column("headlines", overflow="fold")
    for run_dir in list_runs(root):
        with run_dir.store(readonly=True) as store:
            meta = store.meta()
            finals = dict(_final_scalars(store, ("accuracy",)))
        acc = finals.get("final test accuracy")
        headlines = summarize_run(run_dir).headlines
        table.add_row(
            run_dir.root.name,
            str(run_dir.config().get("experiment", "?")),
            f"{meta.get('steps_completed', '-')}/{run_dir.config().get('steps', '?')}",
            f"{acc:.4f}" if acc is not None else "-",
            f"{float(meta['wall_time_s']):.1f}" if "wall_time_s" in meta else "-",
            "\n".join(f"{h.label} {h.text()}" for h in headlines),
        )
    Console().print(table)


@app.command("inspect")
def inspect_(
    run_path: Annotated[
        Path | None, typer.Argument(metavar="[RUN]", help="an infodyn run directory")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="package.module:factory returning the nn.Module", metavar="SPEC"),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="a state-dict file of that model (repeatable)", metavar="PATH"),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="package.module:factory returning a loader or {split: loader}", metavar="SPEC"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="the new run directory (default: RUN/inspect, or runs/inspect-…)"),
    ] = None,
    family: Annotated[
        list[str] | None,
        typer.Option(help="matrix, te, collapse or richness (repeatable; default all)"),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Measure every family at every checkpoint: of RUN, or of --model/--checkpoint/--data."""
    import os
    import sys

    from infodyn.inspection import inspect_files, inspect_run

    families: str | list[str] = family or "all"
    external = model is not None or checkpoint or data is not None
    if (run_path is None) == (not external):
        raise _fail("give RUN, or --model, --checkpoint (one or more) and --data; not both")
    with Progress(*progress_columns(), console=console, disable=quiet) as bar:
        task = bar.add_task("checkpoints", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            if run_path is not None:
                result = inspect_run(_open_run(run_path), out, families=families, progress=progress)
            else:
                if model is None or data is None or not checkpoint:
                    raise ValueError("--model, --checkpoint and --data go together")
                missing = [str(p) for p in checkpoint if not p.is_file()]
                if missing:
                    raise ValueError(f"--checkpoint: not a file: {', '.join(missing)}")
                if os.getcwd() not in sys.path:
                    sys.path.insert(0, os.getcwd())  # factories in the working directory
                destination = RunDir.create(
                    out if out is not None else new_run_dir(Path("runs"), "inspect"),
                    {"experiment": "inspect", "model": model, "data": data,
                     "checkpoints": [str(p) for p in checkpoint], "families": families},
                )  # fmt: skip
                result = inspect_files(
                    model, checkpoint, data, destination, families=families, progress=progress
                )
        except (ValueError, FileExistsError) as err:
            raise _fail(str(err)) from None
    typer.echo(f"run directory: {result.root}")
    typer.echo(f"report: {result.report_path}")


@app.command()
def plot(run_path: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")]) -> None:
    """Redraw every figure of RUN from its store (and its report, which embeds them)."""
    from infodyn.runner import redraw

    figures, report_path = redraw(_open_run(run_path))
    for figure in figures:
        typer.echo(f"figure: {figure}")
    typer.echo(f"report: {report_path}")


@app.command()
def report(
    run_path: Annotated[Path, typer.Argument(metavar="RUN", help="a run directory")],
) -> None:
    """Redraw RUN's figures and rewrite its self-contained report.html."""
    from infodyn.runner import redraw

    typer.echo(f"report: {redraw(_open_run(run_path))[1]}")


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
app.command("compare")(compare)
app.command("explain")(explain)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
