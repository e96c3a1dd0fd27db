"""``infodyn compare``: runs and sweeps side by side, grouped by config values.

Registered in :mod:`infodyn.cli` as ``app.command("compare")(compare)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infodyn.compare.build import Comparison, build_comparison, series_label
from infodyn.compare.load import CompareError, load_runs
from infodyn.compare.output import default_out_dir, write_comparison
from infodyn.summary import ComparisonTable

__all__ = ["compare"]

_errors = Console(stderr=True)


def _table(comparison: Comparison) -> Table:
    n_runs = sum(r.n for r in comparison.groups)
    by = ", ".join(comparison.keys) or "nothing (one group)"
    table = Table(
        title=f"{comparison.experiment}: {n_runs} runs in {len(comparison.groups)} groups, "
        f"grouped by {by}",
        title_justify="left",
    )
    # The quantity column folds long series names so that narrow terminals keep group columns.
    table.add_column("", max_width=34, overflow="fold")
    for r in comparison.groups:
        table.add_column(escape(f"{r.group.label}\n(n={r.n})"), justify="right")
    for h in comparison.headlines:
        table.add_row(
            escape(h.label),
            *(escape(r.headlines[h.key].text(h.fmt, counts=False)) for r in comparison.groups),
        )
    if comparison.headlines:
        table.add_section()
    for key in comparison.series_keys:
        finals = [r.finals.get(key) for r in comparison.groups]
        steps = {f.step for f in finals if f is not None}
        one_step = len(steps) == 1
        cells = [
            "—"
            if f is None
            else f.stats.text(counts=False) + ("" if one_step else f" @ {f.step:,}")
            for f in finals
        ]
        at = f" @ {next(iter(steps)):,}" if one_step else ""
        table.add_row(escape(f"final {series_label(key)}{at}"), *map(escape, cells))
    return table


def _experiment_table(own: ComparisonTable) -> Table:
    table = Table(
        title=own.title, title_justify="left", caption=own.caption, caption_justify="left"
    )
    for column in own.columns:
        table.add_column(escape(column))
    for row in own.rows:
        table.add_row(*map(escape, row))
    return table


def compare(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="RUN_OR_SWEEP...",
            help="run directories and/or sweep directories (a sweep adds its finished runs)",
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="dotted config key to group by, e.g. optim.weight_decay (repeatable); default: "
            "the swept keys, else the config keys that differ between runs (seed excluded)",
            show_default=False,
        ),
    ] = None,
    band: Annotated[
        Literal["std", "minmax"],
        typer.Option(help="band around each group's mean: ± 1 sample std, or min–max of runs"),
    ] = "std",
    out: Annotated[
        Path | None,
        typer.Option(help="output folder (default: ./compare-<UTC timestamp>)", show_default=False),
    ] = None,
) -> None:
    """Compare runs of one experiment: curves with seed bands per group, and a headline table.

    Writes compare.html (self-contained), compare.json and figures/*.png into --out.
    """
    try:
        loaded = load_runs(inputs or [])
        comparison = build_comparison(loaded, by=by, band=band)
        outputs = write_comparison(comparison, out if out is not None else default_out_dir())
    except CompareError as err:
        _errors.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(code=2) from None
    if loaded.skipped:
        states: dict[str, int] = {}
        for s in loaded.skipped:
            states[s.state] = states.get(s.state, 0) + 1
        counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        _errors.print(
            f"[yellow]note:[/] skipped {len(loaded.skipped)} sweep run(s) that are not "
            f"finished ({escape(counts)})",
            highlight=False,
        )
    console = Console()
    console.print(_table(comparison))
    for own in outputs.part.summary.tables:
        console.print(_experiment_table(own))
    if outputs.part.error is not None:
        _errors.print(
            f"[yellow]note:[/] the experiment's own tables and figures failed: "
            f"{escape(outputs.part.error)}",
            highlight=False,
        )
    for figure in outputs.figures:
        typer.echo(f"figure: {figure}")
    typer.echo(f"record: {outputs.record}")
    typer.echo(f"report: {outputs.page}")
