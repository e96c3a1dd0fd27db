"""Shared look of infodyn figures: step axis, split line styles, the experiment's step markers.

Figures are plain :class:`matplotlib.figure.Figure` objects, never pyplot, so drawing holds no
global state and works headless and from threads.
"""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers

#: Line style per split; the spec of every figure: train solid, test dashed.
SPLIT_LINESTYLE = {"train": "-", "test": "--"}
SPLIT_ORDER = ("train", "test")


def new_figure(
    ncols: int, *, width_per_panel: float = 5.4, height: float = 4.2
) -> tuple[Figure, np.ndarray]:
    """A figure with ``ncols`` panels side by side, returned as ``(fig, axes)``."""
    fig = Figure(figsize=(width_per_panel * ncols, height), layout="constrained")
    axes = np.asarray(fig.subplots(1, ncols, squeeze=False)[0], dtype=object)
    return fig, axes


def split_linestyle(split: str) -> str:
    """Solid for train, dashed for test, dotted for any other split.

    A label joining several splits (``"train = test"``, one curve for all) is drawn solid.
    """
    if " = " in split:
        return "-"
    return SPLIT_LINESTYLE.get(split, ":")


def ordered_splits(store: RunStore, metric: str) -> list[str]:
    """Splits that record ``metric``: train, test first, then any others alphabetically."""
    present = {s for m, s, _ in store.keys() if m == metric}
    return [s for s in SPLIT_ORDER if s in present] + sorted(present - set(SPLIT_ORDER))


def layer_series(store: RunStore, metric: str, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(steps, values, layer)`` of ``metric``/``split``; with several layers the first by name."""
    layers = sorted({lay for m, s, lay in store.keys() if m == metric and s == split})
    layer = layers[0] if layers else ""
    steps, values = store.series(metric, split, layer=layer)
    return steps, values, layer


def set_step_axis(ax: Axes) -> None:
    """Log-scaled step axis that still shows step 0.

    ``symlog`` with ``linthresh=1`` is linear on [0, 1] and logarithmic above, so the step-0
    measurement is drawn at the left edge instead of being dropped as a plain log axis would.
    """
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.8)
    ax.set_xlim(left=0)
    ax.set_xlabel("training step (log scale; 0 at left edge)")
    ax.grid(True, which="major", alpha=0.3)


def mark_steps(ax: Axes, markers: StepMarkers, *, label: bool = True) -> list[Artist]:
    """Draw an experiment's step markers: vertical lines and shaded stretches.

    Args:
        ax: The panel.
        markers: From the experiment's :class:`~infodyn.summary.RunSummary` (e.g. grokking's
            fit and generalisation steps).
        label: Give the markers legend labels (set False on all panels but one).

    Returns:
        The artists drawn, for :func:`add_figure_legend`.
    """
    drawn: list[Artist] = []
    for line in markers.lines:
        drawn.append(
            ax.axvline(
                line.step,
                color=line.color,
                linestyle=line.linestyle,
                linewidth=1.5,
                label=line.label if label else "_nolegend_",
            )
        )
    for span in markers.spans:
        drawn.append(
            ax.axvspan(
                span.start,
                span.end,
                color=span.color,
                alpha=span.alpha,
                label=span.label if label else "_nolegend_",
            )
        )
    return drawn


def titled(title: str, markers: StepMarkers) -> str:
    """A figure title with the markers' caption appended, when there is one."""
    return f"{title} — {markers.caption}" if markers.caption else title


def add_figure_legend(fig: Figure, handles: list[Artist]) -> None:
    """One legend row under the panels for entries they all share (e.g. transition markers).

    Kept out of the panels so their own legends stay small and never cover a curve.
    """
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=len(handles),
            frameon=False,
            fontsize="small",
        )


def no_data(ax: Axes, what: str) -> None:
    """Mark a panel whose metrics are not in the store, instead of leaving it blank."""
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


_Curve = tuple[str, str, str, np.ndarray, np.ndarray, str]  # label, colour, split, x, y, layer


def metric_curves(store: RunStore, metric: str, label: str, color: str) -> list[_Curve]:
    """One curve per split; splits with identical series collapse into one curve.

    A quantity of the weights alone (the head's matrix entropy) is the same on every split;
    drawn per split, the dashed test line would hide exactly under the solid train line.
    """
    curves = [
        (label, color, split, *layer_series(store, metric, split))
        for split in ordered_splits(store, metric)
    ]
    first = curves[0] if curves else None
    if (
        first is not None
        and len(curves) > 1
        and all(
            np.array_equal(c[3], first[3]) and np.array_equal(c[4], first[4], equal_nan=True)
            for c in curves[1:]
        )
    ):
        return [(label, color, " = ".join(c[2] for c in curves), first[3], first[4], first[5])]
    return curves


def draw_metric_panel(
    ax: Axes, store: RunStore, metrics: tuple[tuple[str, str, str], ...], what: str
) -> list[Line2D]:
    """Plot each (metric, label, colour) × split on ``ax``; return the curves (empty if none).

    A layer shared by every curve goes in the title; when curves come from different layers,
    each legend entry names its own.
    """
    found = [
        c for metric, label, color in metrics for c in metric_curves(store, metric, label, color)
    ]
    if not found:
        no_data(ax, what)
        return []
    layers = {layer for *_, layer in found}
    per_curve = len(layers) > 1
    curves = []
    for label, color, split, steps, values, layer in found:
        suffix = f" [{layer}]" if per_curve and layer else ""
        (line,) = ax.plot(
            steps,
            values,
            color=color,
            linestyle=split_linestyle(split),
            linewidth=1.8,
            label=f"{label} {split}{suffix}",
        )
        curves.append(line)
    if not per_curve and found[0][-1]:
        ax.set_title(f"{ax.get_title()} — layer {found[0][-1]}")
    return curves


#: One panel of a step figure: (title, y label, what is missing, log y?, metrics), metrics as
#: (metric name in the store, legend label, colour).
Panel = tuple[str, str, str, bool, tuple[tuple[str, str, str], ...]]


def plot_metric_panels(
    store: RunStore,
    panels: tuple[Panel, ...],
    title: str,
    markers: StepMarkers = NO_MARKERS,
) -> tuple[Figure, np.ndarray]:
    """Metrics against step in side-by-side panels, with the run's step markers.

    Each panel draws its metrics for every split (train solid, test dashed) on the shared log
    step axis; a panel whose metrics are all absent says so.
    """
    fig, axes = new_figure(len(panels))
    legend_markers: list[Artist] = []
    for ax, (panel_title, ylabel, what, log_y, metrics) in zip(axes, panels, strict=True):
        ax.set_title(panel_title)
        curves = draw_metric_panel(ax, store, metrics, what)
        if not curves:
            continue
        set_step_axis(ax)
        if log_y:
            ax.set_yscale("log")
        drawn = mark_steps(ax, markers, label=not legend_markers)
        legend_markers = legend_markers or drawn
        ax.set_ylabel(ylabel)
        ax.legend(handles=curves, loc="best", fontsize="small")
    add_figure_legend(fig, legend_markers)
    fig.suptitle(titled(title, markers))
    return fig, axes
