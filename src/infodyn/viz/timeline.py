"""The timeline of transitions: each quantity's window as a bar on the log-step axis.

Drawing only: the rows come from :func:`infodyn.leadlag.explain_group`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from infodyn.leadlag import LeadLagRow
from infodyn.transitions import log_step, step_of
from infodyn.viz._style import set_step_axis

__all__ = ["plot_timeline"]

_DIRECTION_COLOR = {"rise": "tab:green", "fall": "tab:purple"}
_REFERENCE_COLOR = "black"


def _mid_error(row: LeadLagRow) -> tuple[float, float]:
    """The seeds' spread of the middle, ± one std in decades, as distances in steps."""
    if math.isnan(row.mid_log_std):
        return 0.0, 0.0
    mid = float(log_step(row.mid_step))
    return (
        row.mid_step - step_of(mid - row.mid_log_std),
        step_of(mid + row.mid_log_std) - row.mid_step,
    )


def _draw_panel(ax: Axes, title: str, rows: Sequence[LeadLagRow]) -> None:
    shown = [r for r in rows if r.found]
    ax.set_title(title, loc="left", fontsize=10)
    if not shown:
        ax.text(0.5, 0.5, "no series has a transition", ha="center", va="center",
                transform=ax.transAxes, color="0.4")  # fmt: skip
        ax.set_yticks([])
        return
    ys = np.arange(len(shown))[::-1]  # the first mover on top
    reference = next((r for r in shown if r.is_reference), None)
    if reference is not None:
        ax.axvspan(reference.start_step, reference.end_step, color="0.85", alpha=0.6, lw=0)
        ax.axvline(reference.mid_step, color=_REFERENCE_COLOR, lw=1.0, ls="--")
    for y, row in zip(ys, shown, strict=True):
        color = _REFERENCE_COLOR if row.is_reference else _DIRECTION_COLOR[row.direction]
        ax.barh(y, row.end_step - row.start_step, left=row.start_step, height=0.55,
                color=color, alpha=0.35 if not row.is_reference else 0.25, lw=0)  # fmt: skip
        lo, hi = _mid_error(row)
        ax.errorbar(row.mid_step, y, xerr=[[lo], [hi]], fmt="o", color=color, ms=4.5,
                    capsize=3, lw=1.1)  # fmt: skip
        if row.n > 1 and row.paired:
            ax.annotate(f"{row.leading}/{row.paired}", (1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=7,
                        color="0.3")  # fmt: skip
    ax.set_yticks(ys, [r.label for r in shown], fontsize=8)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    set_step_axis(ax)
    ax.grid(axis="x", alpha=0.3)


def plot_timeline(
    groups: Sequence[tuple[str, Sequence[LeadLagRow]]], *, reference_label: str = "reference"
) -> tuple[Figure, np.ndarray]:
    """One panel per group: each quantity's transition window against step (symlog axis).

    A bar spans the window's start to end (10 % to 90 % of the change), the dot is its middle
    (half the change) with ± one std over the seeds as error bars (on the log-step axis), green
    for a rise and purple for a fall; the reference is black, its middle a dashed line and its
    window shaded across the panel. Rows run from the first mover (top) down; series without a
    transition are left out. With several seeds, ``k/n`` on the right counts the seeds in
    which the quantity leads.

    Args:
        groups: ``(title, rows)`` per panel, rows as ranked by
            :func:`infodyn.leadlag.explain_group`.
        reference_label: What the reference is, for the legend.

    Returns:
        ``(fig, axes)`` with one axis per group.

    Example:
        >>> from infodyn.leadlag import explain_group
        >>> steps = np.unique(np.geomspace(1, 10_000, 80).astype(int))
        >>> x = np.log10(1 + steps)
        >>> run = {("accuracy", "test", ""): (steps, 0.01 + 1 / (1 + np.exp(-8 * (x - 3)))),
        ...        ("rnc1", "test", ""): (steps, 0.1 + 1 / (1 + np.exp(8 * (x - 2.5))))}
        >>> fig, axes = plot_timeline([("run", explain_group([run], ("accuracy", "test", "")))])
        >>> axes.shape, sorted(t.get_text() for t in axes[0].get_yticklabels())
        ((1,), ['accuracy (test)', 'rnc1 (test)'])
    """
    if not groups:
        raise ValueError("plot_timeline needs at least one group of rows")
    heights = [max(1, sum(r.found > 0 for r in rows)) for _, rows in groups]
    fig = Figure(figsize=(8.5, 1.3 + 0.28 * sum(heights) + 0.5 * len(groups)), layout="constrained")
    axes = np.asarray(
        fig.subplots(len(groups), 1, squeeze=False, sharex=True,
                     gridspec_kw={"height_ratios": heights})[:, 0],
        dtype=object,
    )  # fmt: skip
    for ax, (title, rows) in zip(axes, groups, strict=True):
        _draw_panel(ax, title, rows)
    axes[-1].set_xlabel("step (log scale)")
    handles = [
        Patch(color=_DIRECTION_COLOR["rise"], alpha=0.5, label="rise: 10–90 % window"),
        Patch(color=_DIRECTION_COLOR["fall"], alpha=0.5, label="fall: 10–90 % window"),
        Line2D([], [], marker="o", ls="", color="0.3", label="middle (± std over seeds)"),
        Line2D([], [], ls="--", color=_REFERENCE_COLOR, label=f"{reference_label}: middle"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    fig.suptitle("What moves first: transition windows against step", fontsize=11)
    return fig, axes
