"""The progress bar columns every infodyn command shows: what, bar, n of total, elapsed, ETA."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_columns"]


def progress_columns() -> tuple[ProgressColumn, ...]:
    """Fresh columns for a :class:`rich.progress.Progress` (columns hold per-bar state)."""
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
