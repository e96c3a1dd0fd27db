"""The experiment's own part of a comparison: its figures and tables, asked for by name only.

``infodyn compare`` knows no experiment. Once the generic comparison is built, it looks the
runs' experiment up in the registry and calls its
:meth:`~infodyn.experiments.base.Experiment.summarize_comparison`; the
:class:`~infodyn.summary.ComparisonSummary` it returns is written here (figures as PNGs) and
shown by the page and the terminal after the generic content. An experiment that fails there
costs only its own part: the generic comparison is still written, with the error on the page.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infodyn.compare.build import Comparison
from infodyn.compare.figures import CompareFigure, _filename
from infodyn.rundir import atomic_write_bytes
from infodyn.summary import ComparisonSummary, ComparisonTable
from infodyn.viz import DPI

__all__ = ["ExperimentPart", "experiment_part", "table_record", "write_experiment_figures"]


@dataclass(frozen=True, eq=False)
class ExperimentPart:
    """What the comparison's experiment added, or why it added nothing.

    Attributes:
        summary: Its tables and (drawn, not yet written) figures; empty when it has none.
        error: ``"<Type>: <message>"`` when its ``summarize_comparison`` raised, else None.
    """

    summary: ComparisonSummary
    error: str | None = None


def experiment_part(comparison: Comparison) -> ExperimentPart:
    """Ask the runs' experiment for its own tables and figures.

    An experiment name the registry does not know (runs written by a user's own loop) adds
    nothing. An exception inside the experiment is caught, warned about and returned as
    :attr:`ExperimentPart.error`, so one experiment's bug never hides the generic comparison.

    Example:
        >>> from infodyn.compare.demo import demo_comparison
        >>> part = experiment_part(demo_comparison())  # grokking adds nothing of its own
        >>> part.summary.tables, part.error
        ((), None)
    """
    from infodyn.experiments import get_experiment

    try:
        experiment = get_experiment(comparison.experiment)
    except ValueError:
        return ExperimentPart(ComparisonSummary())
    try:
        summary = experiment.summarize_comparison(comparison)
    except Exception as err:  # any bug of the experiment's own part
        error = f"{type(err).__name__}: {err}"
        warnings.warn(
            f"experiment {comparison.experiment!r}: its own comparison tables and figures "
            f"failed ({error}); the generic comparison is written without them",
            stacklevel=2,
        )
        return ExperimentPart(ComparisonSummary(), error)
    return ExperimentPart(summary)


def write_experiment_figures(
    summary: ComparisonSummary, directory: Path, taken: set[str]
) -> list[CompareFigure]:
    """Save the experiment's figures as PNGs in ``directory``, names made unique against ``taken``.

    Returns:
        The written figures, in the experiment's order, with its titles and captions.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in summary.figures:
        buf = io.BytesIO()
        spec.figure.savefig(buf, format="png", dpi=DPI)
        path = directory / _filename(Path(spec.filename).stem, taken)
        atomic_write_bytes(path, buf.getvalue())
        written.append(CompareFigure(path, spec.title, spec.caption))
    return written


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and ±inf as None and tuples as lists, so ``json.dumps`` accepts it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def table_record(table: ComparisonTable) -> dict[str, Any]:
    """A table as ``compare.json`` holds it: title, caption, columns, rows, then its record.

    Raises:
        ValueError: The record holds something JSON cannot encode (the message names the
            table).

    Example:
        >>> t = ComparisonTable("delay", "Delay", "…", ("λ", "step"), (("0.1", "300"),),
        ...                     {"slope": float("nan")})
        >>> table_record(t)["slope"] is None, table_record(t)["rows"]
        (True, [['0.1', '300']])
    """
    record = {
        "title": table.title,
        "caption": table.caption,
        "columns": list(table.columns),
        "rows": [list(row) for row in table.rows],
        **_json_safe(dict(table.record)),
    }
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"table {table.key!r}: its record is not JSON-encodable ({err}); give numbers, "
            f"strings, lists and dicts"
        ) from None
    return record
