"""``infodyn explain``: which recorded quantity moves first, in a run or per grid point of a sweep.

Loads runs and sweeps with :func:`infodyn.compare.load.load_runs`, groups a sweep's runs by its
grid point (the seeds of one setting; :func:`infodyn.compare.groups.group_runs`), and ranks
every series of each group by its lead on the reference (:func:`infodyn.leadlag.
explain_group`). The same explanation feeds the terminal table, the JSON rows, the timeline
figure, the run report's section and the comparison page's section.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infodyn.leadlag import (
    DEFAULT_REFERENCE,
    LeadLagRow,
    Series,
    SeriesKey,
    explain_group,
    resolve_reference,
)

__all__ = [
    "DISPLAY_COLUMNS",
    "ROW_KEYS",
    "TIMELINE_NAME",
    "Explanation",
    "GroupExplanation",
    "display_rows",
    "explain_groups",
    "explain_paths",
    "explain_run_series",
    "explanation_record",
    "finding",
    "row_record",
    "write_timeline",
]

#: The timeline figure's file name (in a run's ``figures/``, a sweep's ``explain/``).
TIMELINE_NAME = "timeline.png"

#: The keys of every JSON row, in order.
ROW_KEYS = (
    "metric",
    "split",
    "layer",
    "start_step",
    "mid_step",
    "end_step",
    "direction",
    "lead_steps",
    "lead_ratio",
    "spearman",
    "seeds",
)

#: Columns of :func:`display_rows`.
DISPLAY_COLUMNS = (
    "#",
    "quantity",
    "direction",
    "start",
    "middle",
    "end",
    "lead (steps)",
    "lead ×",
    "Spearman",
    "seeds leading",
    "change / noise",
)


@dataclass(frozen=True)
class GroupExplanation:
    """The ranked rows of one group (a run, or the seeds of one grid point).

    Attributes:
        label: The group's label (``weight_decay=0.02``, or the run's name).
        point: Its grid values (empty for a single run).
        runs: The names of its runs.
        rows: Ranked: first mover first (see :func:`infodyn.leadlag.explain_group`).
    """

    label: str
    point: dict[str, Any]
    runs: tuple[str, ...]
    rows: tuple[LeadLagRow, ...]


@dataclass(frozen=True)
class Explanation:
    """What moves first, per group.

    Attributes:
        reference: The reference series' key, or None when no run records it.
        reference_text: The reference as asked for (``test:accuracy``).
        groups: One per group.
    """

    reference: SeriesKey | None
    reference_text: str
    groups: tuple[GroupExplanation, ...]


#: One group to explain: its label, grid point, run names and each run's series.
GroupInput = tuple[str, Mapping[str, Any], Sequence[str], Sequence[Mapping[SeriesKey, Series]]]


def explain_groups(
    groups: Sequence[GroupInput],
    reference: str = DEFAULT_REFERENCE,
    *,
    strict: bool = True,
) -> Explanation:
    """Explain groups of runs given as ``(label, point, run names, per-run series)``.

    Args:
        groups: The groups; each run's series as ``{(metric, split, layer): (steps, values)}``.
        reference: ``split:metric[:layer]``.
        strict: Raise when no run records the reference; with False the rows carry no lead.

    Raises:
        ValueError: ``reference`` is malformed, or (``strict``) names no stored series.
    """
    keys = sorted({k for _, _, _, runs in groups for series in runs for k in series})
    try:
        ref_key: SeriesKey | None = resolve_reference(reference, keys)
    except ValueError:
        if strict:
            raise
        ref_key = None
    explained = tuple(
        GroupExplanation(
            label,
            dict(point),
            tuple(names),
            tuple(explain_group(runs, ref_key if ref_key is not None else ("", "", ""))),
        )
        for label, point, names, runs in groups
    )
    return Explanation(ref_key, reference, explained)


def explain_run_series(
    name: str, series: Mapping[SeriesKey, Series], reference: str = DEFAULT_REFERENCE
) -> Explanation:
    """Explain one run's series (no error when the reference is missing: no leads then)."""
    return explain_groups([(name, {}, [name], [series])], reference, strict=False)


def explain_paths(paths: Sequence[Path], reference: str = DEFAULT_REFERENCE) -> Explanation:
    """Explain run and sweep directories: one group per run, or per grid point of a sweep.

    Raises:
        infodyn.compare.CompareError: A path that is neither a run nor a sweep, or no finished
            run.
        ValueError: A bad ``reference``.
    """
    from infodyn.compare.groups import group_runs, infer_group_keys
    from infodyn.compare.load import load_runs
    from infodyn.summary import RunSummary

    loaded = load_runs(paths, summarize=lambda _run: RunSummary())
    keys = infer_group_keys(loaded.runs, loaded.swept_keys)
    grouped = group_runs(loaded.runs, keys)
    items: list[GroupInput]
    if len(grouped) == 1 and len(grouped[0].runs) == 1:
        only = grouped[0].runs[0]
        items = [(only.name, {}, [only.name], [only.series])]
    else:
        items = [
            (g.label, g.point, [r.name for r in g.runs], [r.series for r in g.runs])
            for g in grouped
        ]
    return explain_groups(items, reference)


def _number(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else float(x)


def row_record(row: LeadLagRow) -> dict[str, Any]:
    """One row for JSON: exactly :data:`ROW_KEYS`; steps as numbers, NaN as None.

    ``seeds`` holds the counts behind the means: ``n`` runs, ``found`` with a transition,
    ``paired`` with one in the reference too, ``leading`` of those in which the quantity leads,
    and the spreads (sample std) ``lead_steps_std``, ``lead_log_std`` (decades),
    ``mid_log_std`` (decades), plus ``confidence`` (change over noise).
    """
    metric, split, layer = row.key
    return {
        "metric": metric,
        "split": split,
        "layer": layer,
        "start_step": _number(row.start_step),
        "mid_step": _number(row.mid_step),
        "end_step": _number(row.end_step),
        "direction": row.direction if row.found else None,
        "lead_steps": _number(row.lead_steps),
        "lead_ratio": _number(row.lead_ratio),
        "spearman": _number(row.spearman),
        "seeds": {
            "n": row.n,
            "found": row.found,
            "paired": row.paired,
            "leading": row.leading,
            "lead_steps_std": _number(row.lead_steps_std),
            "lead_log_std": _number(row.lead_log_std),
            "mid_log_std": _number(row.mid_log_std),
            "confidence": _number(row.confidence),
        },
    }


def explanation_record(explanation: Explanation) -> dict[str, Any]:
    """The JSON form: the reference, then per group its label, point, runs and rows."""
    ref = explanation.reference
    return {
        "reference": {
            "asked": explanation.reference_text,
            "metric": ref[0] if ref else None,
            "split": ref[1] if ref else None,
            "layer": ref[2] if ref else None,
        },
        "groups": [
            {
                "label": g.label,
                "point": g.point,
                "runs": list(g.runs),
                "rows": [row_record(r) for r in g.rows],
            }
            for g in explanation.groups
        ],
    }


def _step(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:,.0f}"


def display_rows(rows: Sequence[LeadLagRow]) -> list[tuple[str, ...]]:
    """Text cells per row, in :data:`DISPLAY_COLUMNS` order (shared by terminal and pages)."""
    out: list[tuple[str, ...]] = []
    for rank, row in enumerate(rows, start=1):
        if not row.found:
            out.append((str(rank), row.label, "no transition", *("—",) * 8))
            continue
        spread = "" if math.isnan(row.lead_steps_std) else f" ± {row.lead_steps_std:,.0f}"
        lead = (
            "reference"
            if row.is_reference
            else ("—" if math.isnan(row.lead_steps) else f"{row.lead_steps:+,.0f}{spread}")
        )
        out.append(
            (
                str(rank),
                row.label,
                row.direction,
                _step(row.start_step),
                _step(row.mid_step),
                _step(row.end_step),
                lead,
                "—" if math.isnan(row.lead_ratio) else f"{row.lead_ratio:.2f}",
                "—" if math.isnan(row.spearman) else f"{row.spearman:+.2f}",
                f"{row.leading}/{row.paired}" + (f" of {row.n}" if row.n != row.paired else ""),
                "> 10⁶" if row.confidence >= 1e6 else f"{row.confidence:.0f}",
            )
        )
    return out


def finding(row: LeadLagRow, reference: LeadLagRow | None) -> str:
    """One sentence: how far the quantity's middle is from the reference's, in how many seeds.

    Example:
        >>> import math
        >>> row = LeadLagRow(("rnc1", "test", ""), 5, 5, 5, 4, 100.0, 300.0, 900.0, 0.1,
        ...                  "fall", 40.0, 1200.0, 300.0, 5.0, 0.1, 0.9)
        >>> print(finding(row, None))  # doctest: +NORMALIZE_WHITESPACE
        rnc1 (test) halfway 1,200 steps before the reference (×5.00 on the log-step axis);
        leads in 4/5 seeds
    """
    ref = reference.label if reference is not None else "the reference"
    if not row.paired:
        return f"{row.label}: no transition paired with {ref}"
    when = "before" if row.lead_steps > 0 else "after"
    return (
        f"{row.label} halfway {abs(row.lead_steps):,.0f} steps {when} {ref} "
        f"(×{row.lead_ratio:.2f} on the log-step axis); leads in {row.leading}/{row.paired} "
        f"{'seeds' if row.paired > 1 or row.n > 1 else 'run'}"
    )


def write_timeline(explanation: Explanation, path: Path) -> Path:
    """Draw the timeline of every group into ``path`` (PNG, written atomically)."""
    from infodyn.rundir import atomic_write_bytes
    from infodyn.viz import DPI
    from infodyn.viz.timeline import plot_timeline

    ref = explanation.reference
    label = f"{ref[0]} ({ref[1]})" if ref else "reference"
    titles = [
        (g.label + (f" — {len(g.runs)} seeds" if len(g.runs) > 1 else ""), g.rows)
        for g in explanation.groups
    ]
    fig, _ = plot_timeline(titles, reference_label=label)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return path
