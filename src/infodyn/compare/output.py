"""Write a comparison to a folder: ``compare.html``, ``compare.json`` and ``figures/*.png``.

The experiment's own tables and figures (:mod:`infodyn.compare.extension`) are written with
the generic ones: their PNGs in ``figures/``, the tables and figure paths in ``compare.json``
(``tables``, ``experiment_figures``), both on the page after the generic content.

Every file is written atomically (:func:`infodyn.rundir.atomic_write_bytes`), so a reader
sees the previous comparison or the new one, never half a file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from infodyn.compare.build import Comparison
from infodyn.compare.extension import (
    ExperimentPart,
    experiment_part,
    table_record,
    write_experiment_figures,
)
from infodyn.compare.figures import (
    CompareFigure,
    _filename,
    draw_comparison_figures,
    group_colors,
)
from infodyn.compare.load import CompareError
from infodyn.compare.report import write_compare_page
from infodyn.compare.stats import ValueStats
from infodyn.explain import Explanation, explain_groups, explanation_record, write_timeline
from infodyn.explain_html import explain_section
from infodyn.rundir import atomic_write_text, new_run_dir
from infodyn.summary import ComparisonSummary

__all__ = [
    "PAGE_NAME",
    "RECORD_FORMAT",
    "RECORD_NAME",
    "CompareOutputs",
    "comparison_record",
    "default_out_dir",
    "explain_comparison",
    "write_comparison",
]

PAGE_NAME = "compare.html"
RECORD_NAME = "compare.json"
RECORD_FORMAT = "infodyn-compare-v1"


@dataclass(frozen=True)
class CompareOutputs:
    """The files of one written comparison.

    Attributes:
        directory: The output folder.
        page: ``compare.html``.
        record: ``compare.json``.
        figures: Every PNG: the generic figures, the experiment's own, then the timeline of
            transitions.
        part: What the experiment added (its tables, or the error its part raised).
    """

    directory: Path
    page: Path
    record: Path
    figures: tuple[Path, ...]
    part: ExperimentPart = field(default_factory=lambda: ExperimentPart(ComparisonSummary()))


def default_out_dir(parent: Path = Path("."), *, now: datetime | None = None) -> Path:
    """A fresh ``compare-YYYYmmdd-HHMMSS`` folder name under ``parent`` (UTC; ``-2``… if taken).

    Example:
        >>> from datetime import datetime, UTC
        >>> default_out_dir(now=datetime(2026, 11, 25, 7, 45, 1, tzinfo=UTC)).name
        'compare-20261125-074501'
    """
    return new_run_dir(parent, "compare", now=now)


def _number(x: float | None) -> float | None:
    """JSON has no NaN: a NaN statistic is written as null (the page shows it as NaN)."""
    return None if x is None or math.isnan(x) else x


def _stats(s: ValueStats) -> dict[str, Any]:
    return {
        "mean": _number(s.mean),
        "std": _number(s.std),
        "min": _number(s.min),
        "max": _number(s.max),
        "n": s.n,
        "total": s.total,
    }


def comparison_record(
    comparison: Comparison,
    figures: list[CompareFigure],
    part: ExperimentPart | None = None,
    experiment_figures: list[CompareFigure] | None = None,
) -> dict[str, Any]:
    """The machine-readable form of a comparison (what ``compare.json`` holds).

    Per group: its grouping values, runs, headline statistics, and per shared series the
    final-value statistics with the alignment (``shared_steps``, ``dropped``). Statistics are
    over the group's runs; ``std`` is the sample std (null for fewer than 2 values); NaN is
    written as null. Then the experiment's own part: ``tables`` (``{key: {title, caption,
    columns, rows, …its record}}``), ``experiment_figures`` and ``experiment_error``.

    Example:
        >>> from infodyn.compare.demo import demo_comparison
        >>> record = comparison_record(demo_comparison(), [])
        >>> g = record["groups"][0]
        >>> g["label"], g["n"], g["headlines"]["final_test_accuracy"]["n"], g["final"][0]["dropped"]
        ('weight_decay=0.1', 3, 3, 1)
    """
    every_figure = [*figures, *(experiment_figures or [])]
    directory = every_figure[0].path.parent.parent if every_figure else None

    def relative(f: CompareFigure) -> str:
        return str(f.path.relative_to(directory)) if directory else str(f.path)

    part = part if part is not None else ExperimentPart(ComparisonSummary())
    groups = []
    for r in comparison.groups:
        final = []
        for key, value in r.finals.items():
            band = r.bands[key]
            metric, split, layer = key
            final.append(
                {
                    "metric": metric,
                    "split": split,
                    "layer": layer,
                    "step": value.step,
                    **_stats(value.stats),
                    "shared_steps": int(band.steps.size),
                    "dropped": band.dropped,
                }
            )
        missing = [
            {"metric": m, "split": s, "layer": lay}
            for m, s, lay in comparison.series_keys
            if (m, s, lay) not in r.bands
        ]
        groups.append(
            {
                "label": r.group.label,
                "point": r.group.point,
                "n": r.n,
                "runs": [{"name": run.name, "path": str(run.run.root)} for run in r.group.runs],
                "headlines": {
                    h.key: {"label": h.label, **_stats(r.headlines[h.key])}
                    for h in comparison.headlines
                },
                "final": final,
                "not_recorded_by_every_run": missing,
            }
        )
    return {
        "format": RECORD_FORMAT,
        "experiment": comparison.experiment,
        "grouped_by": list(comparison.keys),
        "grouping_inferred": comparison.keys_inferred,
        "band": comparison.band,
        "inputs": [str(p) for p in comparison.loaded.inputs],
        "skipped": [
            {"name": s.name, "state": s.state, "error": s.error} for s in comparison.loaded.skipped
        ],
        "groups": groups,
        "figures": [relative(f) for f in figures],
        "tables": {t.key: table_record(t) for t in part.summary.tables},
        "experiment_figures": [relative(f) for f in experiment_figures or []],
        "experiment_error": part.error,
    }


def explain_comparison(comparison: Comparison) -> Explanation:
    """What moves first in each group, against test accuracy (no leads if no run records it).

    Example:
        >>> from infodyn.compare.demo import demo_comparison
        >>> [g.label for g in explain_comparison(demo_comparison()).groups]
        ['weight_decay=0.1', 'weight_decay=1.0']
    """
    items = [
        (r.group.label, r.group.point, [run.name for run in r.group.runs],
         [run.series for run in r.group.runs])
        for r in comparison.groups
    ]  # fmt: skip
    return explain_groups(items, strict=False)


def write_comparison(
    comparison: Comparison, out: Path, *, part: ExperimentPart | None = None
) -> CompareOutputs:
    """Draw the figures, then write ``compare.json`` and ``compare.html`` into ``out``.

    Both carry what moves first in each group (:func:`explain_comparison`): ``compare.json``
    under ``explain``, the page in its "What moves first" section, with ``figures/timeline.png``.

    Args:
        comparison: From :func:`infodyn.compare.build.build_comparison`.
        out: The folder (created with its parents); files of an earlier comparison there are
            replaced.
        part: The experiment's own tables and figures; None asks the runs' experiment
            (:func:`infodyn.compare.extension.experiment_part`).

    Raises:
        CompareError: ``out`` is an existing file.
    """
    if out.exists() and not out.is_dir():
        raise CompareError(f"--out {out} is a file; pass a folder for the comparison's files")
    out.mkdir(parents=True, exist_ok=True)
    part = experiment_part(comparison) if part is None else part
    figures = draw_comparison_figures(comparison, out / "figures")
    taken = {f.path.name for f in figures}
    own = write_experiment_figures(part.summary, out / "figures", taken)
    taken |= {f.path.name for f in own}
    explanation = explain_comparison(comparison)
    timeline = write_timeline(explanation, out / "figures" / _filename("timeline", taken))
    data = comparison_record(comparison, figures, part, own)
    data["explain"] = {**explanation_record(explanation), "figure": f"figures/{timeline.name}"}
    record = out / RECORD_NAME
    atomic_write_text(record, json.dumps(data, indent=2, allow_nan=False) + "\n")
    page = write_compare_page(
        comparison,
        figures,
        group_colors(len(comparison.groups)),
        out / PAGE_NAME,
        part=part,
        experiment_figures=own,
        explain=explain_section(explanation, timeline),
    )
    paths = (*(f.path for f in [*figures, *own]), timeline)
    return CompareOutputs(out, page, record, paths, part)
