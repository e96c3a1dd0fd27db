"""Figures of the weight-decay study (Sakamoto & Sato, Figs. 2–4), drawn from computed data.

Nothing here opens a store or computes a statistic: :mod:`infodyn.experiments.weight_decay_report`
turns runs into :class:`BandPanel`\\ s and :class:`MarginSnapshot`\\ s, these functions draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import ColorType, LineStyleType

from infodyn.viz._style import set_step_axis

__all__ = [
    "TEST_COLOR",
    "TRAIN_COLOR",
    "BandCurve",
    "BandPanel",
    "MarginSnapshot",
    "plot_band_panels",
    "plot_margin_snapshots",
]

#: Violin halves: training samples (left) and held-out samples (right).
TRAIN_COLOR = "tab:blue"
TEST_COLOR = "tab:orange"


@dataclass(frozen=True, eq=False)
class BandCurve:
    """One group's mean curve with its band across runs, as one line of a panel.

    Attributes:
        steps, mean, lower, upper: ``(t,)`` arrays; the band is drawn when ``n > 1``.
        color: The group's colour.
        linestyle: ``"-"``, ``"--"`` …
        n: Runs behind the mean.
    """

    steps: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    color: object
    linestyle: str
    n: int


@dataclass(frozen=True, eq=False)
class BandPanel:
    """A panel of curves against step.

    Attributes:
        title: Panel title.
        ylabel: y-axis label.
        curves: The curves.
        log_y: Logarithmic y axis (bands are clipped to a floor below the smallest mean).
    """

    title: str
    ylabel: str
    curves: tuple[BandCurve, ...]
    log_y: bool = False


@dataclass(frozen=True, eq=False)
class MarginSnapshot:
    """The class-pair margins of one run at one step, training and held-out.

    Attributes:
        label: What the step is (e.g. ``"memorised"``), shown in the panel title.
        step: The recorded step.
        train_a, train_b, test_a, test_b: ``(n,)`` margins of the class-a / class-b samples.
    """

    label: str
    step: int
    train_a: np.ndarray
    train_b: np.ndarray
    test_a: np.ndarray
    test_b: np.ndarray


def _draw_band_panel(ax: Axes, panel: BandPanel) -> None:
    floor = None
    if panel.log_y:
        means = [c.mean[np.isfinite(c.mean) & (c.mean > 0)] for c in panel.curves]
        values = np.concatenate(means) if means else np.array([])
        floor = float(values.min()) / 10 if values.size else None
    for c in panel.curves:
        lower = c.lower if floor is None else np.where(c.lower > 0, c.lower, floor)
        if c.n > 1:
            ax.fill_between(c.steps, lower, c.upper, color=c.color, alpha=0.15, lw=0)
        ax.plot(c.steps, c.mean, color=c.color, linestyle=c.linestyle, lw=1.7)
    ax.set_title(panel.title, fontsize="medium")
    ax.set_ylabel(panel.ylabel)
    set_step_axis(ax)
    if floor is not None:
        ax.set_yscale("log")


def plot_band_panels(
    panels: Sequence[BandPanel],
    groups: Sequence[tuple[str, object]],
    styles: Sequence[tuple[str, str]],
    title: str,
    *,
    note: str = "",
) -> tuple[Figure, np.ndarray]:
    """Panels side by side, one colour per group, with one legend for groups and line styles.

    Args:
        panels: The panels, left to right.
        groups: ``(label, colour)`` per group, for the legend.
        styles: ``(label, linestyle)`` explaining the line styles (e.g. train dashed).
        title: Figure title.
        note: A line under the panels (e.g. what the band is).

    Returns:
        ``(fig, axes)``.

    Example:
        >>> s = np.array([0, 10, 100])
        >>> curve = BandCurve(s, s + 1.0, s + 0.5, s + 1.5, "tab:blue", "-", 3)
        >>> fig, axes = plot_band_panels([BandPanel("a", "y", (curve,))], [("g", "tab:blue")],
        ...                              [("test", "-")], "demo")
        >>> len(axes), len(axes[0].lines)
        (1, 1)
    """
    if not panels:
        raise ValueError("no panels to draw; pass at least one BandPanel")
    fig = Figure(figsize=(4.3 * len(panels) + 2.4, 3.9), layout="constrained")
    axes = np.asarray(fig.subplots(1, len(panels), squeeze=False)[0], dtype=object)
    for ax, panel in zip(axes, panels, strict=True):
        _draw_band_panel(ax, panel)
    handles: list[Artist] = [
        Line2D([], [], color=cast(ColorType, c), lw=2.5, label=g) for g, c in groups
    ]
    handles += [
        Line2D([], [], color="0.3", linestyle=cast(LineStyleType, ls), label=lab)
        for lab, ls in styles
    ]
    handles.append(Patch(color="0.3", alpha=0.15, label="band: mean ± 1 std across seeds"))
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize="small")
    fig.suptitle(title, x=0.01, ha="left")
    if note:
        fig.supxlabel(note, fontsize="small", color="0.3")
    return fig, axes


def _split_violins(ax: Axes, position: float, left: np.ndarray, right: np.ndarray) -> None:
    """Training samples as the left half, held-out samples as the right half of one violin."""
    halves: tuple[tuple[np.ndarray, Literal["low", "high"], str], ...] = (
        (left, "low", TRAIN_COLOR),
        (right, "high", TEST_COLOR),
    )
    for values, side, color in halves:
        values = values[np.isfinite(values)]
        if values.size < 2 or np.ptp(values) == 0:
            ax.scatter(np.full(values.size, position), values, color=color, s=6)
            continue
        parts = ax.violinplot(
            values, positions=[position], side=side, widths=0.8, showextrema=False
        )
        for body in cast(list[PolyCollection], parts["bodies"]):
            body.set_facecolor(color)
            body.set_edgecolor(color)
            body.set_alpha(0.55)
        offset = -0.12 if side == "low" else 0.12
        ax.plot([position + offset], [np.median(values)], marker="_", color="k", ms=10)


def _margin_panel(ax: Axes, snap: MarginSnapshot, class_pair: tuple[int, int]) -> None:
    a, b = class_pair
    _split_violins(ax, 0.0, snap.train_a, snap.test_a)
    _split_violins(ax, 1.0, snap.train_b, snap.test_b)
    ax.axhline(0.0, color="0.3", lw=0.8, ls=":")
    ax.set_xticks([0.0, 1.0], [f"class {a} samples", f"class {b} samples"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_title(f"{snap.label} (step {snap.step:,})", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)


def plot_margin_snapshots(
    rows: Sequence[tuple[str, Sequence[MarginSnapshot | None]]],
    class_pair: tuple[int, int],
    title: str,
) -> tuple[Figure, np.ndarray]:
    """Split violins of class-pair margins: one row per run, one column per moment.

    Each violin holds the samples of one class: its left half the training samples, its
    right half the held-out ones; 0 is the a-vs-b decision boundary (class a above). As in
    Sakamoto & Sato's Fig. 2, the held-out margins straddle the boundary at memorisation and
    sit on the right side, away from it, once the within-class variance has contracted.

    Args:
        rows: ``(row label, snapshots)``; a None snapshot leaves its panel with a note.
        class_pair: ``(a, b)``.
        title: Figure title.

    Returns:
        ``(fig, axes)``, axes of shape ``(rows, columns)``.

    Example:
        >>> r = np.linspace(-1, 1, 20)
        >>> snap = MarginSnapshot("end", 100, r + 2, r - 2, 2 * r + 1, 2 * r - 1)
        >>> fig, axes = plot_margin_snapshots([("λ=0.1", [snap, None])], (0, 1), "demo")
        >>> axes.shape
        (1, 2)
    """
    if not rows:
        raise ValueError("no margin snapshots to draw; pass at least one row")
    ncols = max(len(snaps) for _, snaps in rows)
    fig = Figure(figsize=(3.9 * ncols + 2.2, 2.9 * len(rows) + 0.9), layout="constrained")
    axes = np.asarray(fig.subplots(len(rows), ncols, squeeze=False), dtype=object)
    for i, (label, snaps) in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            snap = snaps[j] if j < len(snaps) else None
            if snap is None:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", color="0.4")
                ax.set_axis_off()
                continue
            _margin_panel(ax, snap, class_pair)
            if j == 0:
                ax.set_ylabel(f"{label}\nmargin (feature units)" if label else "margin")
    handles = [
        Patch(color=TRAIN_COLOR, alpha=0.55, label="training samples (left halves)"),
        Patch(color=TEST_COLOR, alpha=0.55, label="held-out samples (right halves)"),
        Line2D([], [], color="0.3", ls=":", label="decision boundary"),
    ]
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize="small")
    fig.suptitle(title, x=0.01, ha="left")
    return fig, axes
