"""Comparison figures: each group's mean curve and band against step, one figure per family.

The figures follow the run report's families (training, matrix information, richness, …, from
:data:`infodyn.viz.FIGURES`), with the series no family claims in a last "other" figure. Each
figure is a grid of small panels, one per (metric, layer), both splits in a panel (train solid,
test dashed, as in the run figures) and one colour per group. Why this shape: a reader
compares groups within a panel and metrics of one family side by side, the way the run report
already taught them; a single grid of every metric would be too small to read at page width,
and one figure per series would scatter train and test of one metric apart.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import LineStyleType

from infodyn.compare.build import Comparison, series_label
from infodyn.compare.load import SeriesKey
from infodyn.rundir import atomic_write_bytes
from infodyn.viz import DPI, FIGURES
from infodyn.viz._style import set_step_axis, split_linestyle

__all__ = [
    "BAND_TEXT",
    "CompareFigure",
    "alignment_notes",
    "draw_comparison_figures",
    "group_colors",
    "metric_families",
    "plot_family",
]

#: Legend text of each band kind.
BAND_TEXT = {"std": "band: mean ± 1 std across runs", "minmax": "band: min–max across runs"}
#: Panels per row: two keep the text legible once the page scales a figure to its width.
MAX_COLUMNS = 2
#: A positive mean curve spanning more than this ratio is drawn on a log y axis (e.g. a loss
#: falling from 4.6 to 1e-4); accuracies and ratios in [0, 1] stay linear.
LOG_Y_SPAN = 1e3
#: Alignment notes under a figure before the rest is left to the page's alignment table.
MAX_NOTES = 6
_OTHER = ("other", "Other scalar metrics")


@dataclass(frozen=True)
class CompareFigure:
    """One written comparison figure.

    Attributes:
        path: The PNG.
        title: The family title.
        caption: One paragraph for the page: what is drawn, and how steps were aligned.
    """

    path: Path
    title: str
    caption: str


def metric_families(metrics: Sequence[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Sort metrics into the run report's figure families, in registry order.

    Args:
        metrics: Metric names present.

    Returns:
        ``(file stem, title, metrics)`` per family holding any of them; the metrics no family
        claims come last, by name, as ``("other", "Other scalar metrics", …)``.

    Example:
        >>> metric_families(["loss", "mir", "accuracy", "zeta"])[0]
        ('training', 'Training', ('accuracy', 'loss'))
        >>> metric_families(["zeta"])
        [('other', 'Other scalar metrics', ('zeta',))]
    """
    present = set(metrics)
    claimed: set[str] = set()
    families = []
    for spec in FIGURES:
        found = tuple(m for m in dict.fromkeys(spec.metrics) if m in present and m not in claimed)
        if found:
            stem = Path(spec.filename).stem
            families.append((stem, stem.replace("_", " ").capitalize(), found))
            claimed.update(found)
    rest = tuple(sorted(present - claimed))
    if rest:
        families.append((*_OTHER, rest))
    return families


def group_colors(n: int) -> list[tuple[float, float, float, float]]:
    """One distinct colour per group: tab10 up to 10 groups, tab20 beyond (then repeating)."""
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    size = 10 if n <= 10 else 20
    return [cmap(i % size) for i in range(n)]


def _panels(comparison: Comparison, metrics: Sequence[str]) -> list[tuple[str, str]]:
    """``(metric, layer)`` panels of these metrics, in family then layer order."""
    found = {(m, lay) for m, _, lay in comparison.series_keys if m in metrics}
    return sorted(found, key=lambda ml: (list(metrics).index(ml[0]), ml[1]))


def _splits(comparison: Comparison, metric: str, layer: str) -> list[str]:
    return [s for m, s, lay in comparison.series_keys if m == metric and lay == layer]


def _log_floor(comparison: Comparison, keys: Sequence[SeriesKey]) -> float | None:
    """For a log y axis, a floor below the panel's smallest mean (bands clip to it); else None.

    The axis is logarithmic when every finite mean is positive and they span more than
    :data:`LOG_Y_SPAN`.
    """
    means = [
        r.bands[k].mean[np.isfinite(r.bands[k].mean)]
        for r in comparison.groups
        for k in keys
        if k in r.bands
    ]
    values = np.concatenate(means) if means else np.array([])
    if values.size and values.min() > 0 and values.max() / values.min() > LOG_Y_SPAN:
        return float(values.min()) / 10
    return None


def _draw_panel(
    ax: Axes, comparison: Comparison, metric: str, layer: str, colors: Sequence[object]
) -> None:
    keys = [(metric, split, layer) for split in _splits(comparison, metric, layer)]
    floor = _log_floor(comparison, keys)
    for result, color in zip(comparison.groups, colors, strict=True):
        for key in keys:
            band = result.bands.get(key)
            if band is None:
                continue
            lower = band.lower
            if floor is not None:  # a std band can dip below zero: clip it near the axis bottom
                lower = np.where(lower > 0, lower, floor)
            if band.n > 1:
                ax.fill_between(band.steps, lower, band.upper, color=color, alpha=0.18, lw=0)
            ax.plot(band.steps, band.mean, color=color, linestyle=split_linestyle(key[1]), lw=1.8)
    ax.set_title(metric + (f" — {layer}" if layer else ""), fontsize="medium")
    set_step_axis(ax)
    if floor is not None:
        ax.set_yscale("log")
        ax.set_ylabel(f"{metric} (log scale)")
    else:
        ax.set_ylabel(metric)


def alignment_notes(comparison: Comparison, keys: Sequence[SeriesKey]) -> list[str]:
    """Say, per group, which series lost steps to alignment and which were not drawn.

    Example lines: ``"wd=0.1 — loss/test, loss/train: aligned on 44 shared steps; 3
    dropped"`` (``all series`` when it holds for every series drawn) and ``"wd=1.0 —
    mir/test: not recorded by every run, not drawn"``.

    Example:
        >>> from infodyn.compare.demo import demo_comparison
        >>> c = demo_comparison()
        >>> alignment_notes(c, c.series_keys)
        ['weight_decay=0.1 — all series: aligned on 28 shared steps; 1 dropped']
    """
    notes = []
    for result in comparison.groups:
        by_count: dict[tuple[int, int], list[str]] = {}
        missing = []
        for key in keys:
            band = result.bands.get(key)
            if band is None:
                missing.append(series_label(key))
            elif band.dropped:
                by_count.setdefault((band.steps.size, band.dropped), []).append(series_label(key))
        label = result.group.label
        drawn = len(keys) - len(missing)
        for (shared, dropped), names in by_count.items():
            which = "all series" if len(names) == drawn and drawn > 1 else ", ".join(names)
            notes.append(f"{label} — {which}: aligned on {shared} shared steps; {dropped} dropped")
        if missing:
            notes.append(f"{label} — {', '.join(missing)}: not recorded by every run, not drawn")
    return notes


def plot_family(
    comparison: Comparison, title: str, metrics: Sequence[str]
) -> tuple[Figure, np.ndarray]:
    """Small multiples of ``metrics``: each group's mean and band against step.

    Args:
        comparison: From :func:`infodyn.compare.build.build_comparison`.
        title: The family's title.
        metrics: The family's metrics, in panel order; one panel per (metric, layer) shared.

    Returns:
        ``(fig, axes)``, ``axes`` the used panels in reading order. A legend above the panels
        names each group (colour, with its run count), the split styles and the band; notes
        under them say where steps were dropped to align runs or a series was not drawn.

    Example:
        >>> import numpy as np
        >>> from infodyn.compare.demo import demo_comparison
        >>> fig, axes = plot_family(demo_comparison(), "Training", ["accuracy", "loss"])
        >>> len(axes), len(axes[0].lines), len(axes[0].collections)
        (2, 4, 4)
    """
    panels = _panels(comparison, metrics)
    if not panels:
        raise ValueError(
            f"no series of metrics {list(metrics)} is shared by any group; pick metrics from "
            f"{sorted({m for m, _, _ in comparison.series_keys})}"
        )
    ncols = min(MAX_COLUMNS, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.6 * ncols + 2.6, 3.3 * nrows + 1.0), layout="constrained")
    grid = np.asarray(fig.subplots(nrows, ncols, squeeze=False), dtype=object).ravel()
    colors = group_colors(len(comparison.groups))
    for ax, (metric, layer) in zip(grid, panels, strict=False):
        _draw_panel(ax, comparison, metric, layer, colors)
    for ax in grid[len(panels) :]:
        ax.set_visible(False)
    splits = list(dict.fromkeys(s for m, lay in panels for s in _splits(comparison, m, lay)))
    handles: list[Artist] = [
        Line2D([], [], color=c, lw=2.5, label=f"{r.group.label} (n={r.n})")
        for r, c in zip(comparison.groups, colors, strict=True)
    ]
    for split in splits:
        # split_linestyle returns a plain str; matplotlib's stubs want its Literal of styles.
        style = cast(LineStyleType, split_linestyle(split))
        handles.append(Line2D([], [], color="0.3", linestyle=style, label=split))
    handles.append(Patch(color="0.3", alpha=0.18, label=BAND_TEXT[comparison.band]))
    fig.legend(
        handles=handles,
        loc="outside right upper",
        frameon=False,
        fontsize="small",
    )
    # Left-aligned and short: a centred title would run into the legend of a one-panel figure.
    fig.suptitle(f"{title} — {comparison.experiment}", x=0.01, ha="left")
    keys = [k for k in comparison.series_keys if (k[0], k[2]) in set(panels)]
    notes = alignment_notes(comparison, keys)
    if len(notes) > MAX_NOTES:
        notes = [*notes[:MAX_NOTES], f"… {len(notes) - MAX_NOTES} more in compare.html"]
    if notes:
        fig.supxlabel("\n".join(notes), fontsize="small", color="0.3")
    return fig, grid[: len(panels)]


def _filename(stem: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", stem) or "figure"
    name, n = f"{base}.png", 1
    while name in taken:
        n += 1
        name = f"{base}-{n}.png"
    taken.add(name)
    return name


def draw_comparison_figures(comparison: Comparison, directory: Path) -> list[CompareFigure]:
    """Draw one PNG per metric family into ``directory`` (created), each written atomically.

    Returns:
        The figures in family order, with captions for the page.
    """
    directory.mkdir(parents=True, exist_ok=True)
    metrics = list(dict.fromkeys(m for m, _, _ in comparison.series_keys))
    band = BAND_TEXT[comparison.band].removeprefix("band: ")
    taken: set[str] = set()
    written = []
    for stem, title, family in metric_families(metrics):
        fig, _ = plot_family(comparison, title, family)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        path = directory / _filename(stem, taken)
        atomic_write_bytes(path, buf.getvalue())
        keys = [k for k in comparison.series_keys if k[0] in family]
        caption = (
            f"{title}: {', '.join(family)}. Lines: each group's mean over its runs; shaded: "
            f"{band}. Train solid, test dashed; curves use only the steps every run of a "
            f"group recorded (never interpolated)"
        )
        # The figure itself lists what alignment dropped; the caption only points at it.
        dropped = alignment_notes(comparison, keys)
        caption += "; notes under the panels say what was left out." if dropped else "."
        written.append(CompareFigure(path, title, caption))
    return written
