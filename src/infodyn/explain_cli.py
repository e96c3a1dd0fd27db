"""``infodyn explain``: the ranked table (what moves first), its JSON rows and the timeline figure.

Registered in :mod:`infodyn.cli` as ``app.command("explain")(explain)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infodyn.explain import (
    DISPLAY_COLUMNS,
    TIMELINE_NAME,
    Explanation,
    display_rows,
    explain_paths,
    explanation_record,
    finding,
    write_timeline,
)
from infodyn.leadlag import DEFAULT_REFERENCE
from infodyn.sweep import MANIFEST_NAME

__all__ = ["explain", "timeline_path"]

_errors = Console(stderr=True)


def timeline_path(inputs: list[Path], out: Path | None) -> Path:
    """Where the figure goes: ``--out``, else ``RUN/figures/`` or ``SWEEP/explain/``."""
    if out is not None:
        return out / TIMELINE_NAME
    first = inputs[0]
    if (first / MANIFEST_NAME).is_file():
        return first / "explain" / TIMELINE_NAME
    return first / "figures" / TIMELINE_NAME


def _table(explanation: Explanation) -> list[Table]:
    tables = []
    for group in explanation.groups:
        seeds = f" — {len(group.runs)} seeds" if len(group.runs) > 1 else ""
        table = Table(title=f"{group.label}{seeds}: what moves first", title_justify="left")
        for column in DISPLAY_COLUMNS:
            table.add_column(
                column, justify="left" if column in ("quantity", "direction") else "right"
            )
        for cells in display_rows(group.rows):
            table.add_row(*map(escape, cells))
        ref_row = next((r for r in group.rows if r.is_reference), None)
        firsts = [r for r in group.rows if r.paired and not r.is_reference and r.lead_steps > 0]
        if firsts:
            table.caption = escape(finding(firsts[0], ref_row))
            table.caption_justify = "left"
        tables.append(table)
    return tables


def explain(
    inputs: Annotated[
        list[Path],
        typer.Argument(metavar="RUN_OR_SWEEP...", help="run directories and/or sweep directories"),
    ],
    reference: Annotated[
        str,
        typer.Option(
            help="the event to measure leads against, split:metric[:layer]; e.g. train:accuracy "
            "for the fit"
        ),
    ] = DEFAULT_REFERENCE,
    format_: Annotated[
        Literal["table", "json"], typer.Option("--format", help="table or json (on stdout)")
    ] = "table",
    out: Annotated[
        Path | None,
        typer.Option(
            help="folder for timeline.png (default: RUN/figures, or SWEEP/explain)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Which quantity moves first: each series' transition window and its lead on the reference.

    Ranks every scalar series (metric × split × layer) by how far its transition's middle
    precedes the reference's (default: test accuracy's rise), across the seeds of each grid
    point of a sweep, and draws the timeline figure.
    """
    from infodyn.compare.load import CompareError

    try:
        explanation = explain_paths(inputs, reference)
    except (CompareError, ValueError) as err:
        _errors.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(code=2) from None
    figure: Path | None
    try:
        figure = write_timeline(explanation, timeline_path(inputs, out))
    except OSError as err:
        figure = None
        _errors.print(
            f"[yellow]note:[/] timeline not written ({escape(str(err))}); pass --out DIR",
            highlight=False,
        )
    if format_ == "json":
        record = explanation_record(explanation)
        record["figure"] = str(figure) if figure is not None else None
        typer.echo(json.dumps(record, indent=2, allow_nan=False))
        return
    console = Console(width=max(Console().width, 160))
    for table in _table(explanation):
        console.print(table)
    steps = [r.mid_step for g in explanation.groups for r in g.rows if r.is_reference]
    if not steps or all(math.isnan(s) for s in steps):
        _errors.print(
            f"[yellow]note:[/] the reference {escape(reference)} has no transition: no leads",
            highlight=False,
        )
    if figure is not None:
        typer.echo(f"figure: {figure}")
