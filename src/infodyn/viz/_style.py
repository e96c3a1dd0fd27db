"""Shared look of infodyn figures: step axis, split line styles, grokking transition markers.

Figures are plain :class:`matplotlib.figure.Figure` objects, never pyplot, so drawing holds no
global state and works headless and from threads.
"""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from infodyn.analysis import FIT_THRESHOLD, GENERALIZE_THRESHOLD, GrokkingSteps
from infodyn.store import RunStore

#: Line style per split; the spec of every figure: train solid, test dashed.
SPLIT_LINESTYLE = {"train": "-", "test": "--"}
SPLIT_ORDER = ("train", "test")
FIT_COLOR = "0.35"
GENERALIZE_COLOR = "tab:green"
BAND_COLOR = "tab:green"


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


def mark_transition(ax: Axes, grokking: GrokkingSteps, *, label: bool = True) -> list[Artist]:
    """Draw the fit and generalisation steps as vertical lines with the delay shaded between.

    Args:
        ax: The panel.
        grokking: Steps from :func:`infodyn.analysis.grokking_steps`; a missing step is not drawn.
        label: Give the markers legend labels (set False on all panels but one).

    Returns:
        The artists drawn, for :func:`add_figure_legend`.
    """
    fit, gen = grokking.fit_step, grokking.generalize_step
    drawn: list[Artist] = []
    if fit is not None:
        drawn.append(
            ax.axvline(
                fit,
                color=FIT_COLOR,
                linestyle=":",
                linewidth=1.5,
                label=f"train acc ≥ {FIT_THRESHOLD:g} (step {fit:,})" if label else "_nolegend_",
            )
        )
    if gen is not None:
        drawn.append(
            ax.axvline(
                gen,
                color=GENERALIZE_COLOR,
                linestyle="-.",
                linewidth=1.5,
                label=(
                    f"test acc ≥ {GENERALIZE_THRESHOLD:g} (step {gen:,})" if label else "_nolegend_"
                ),
            )
        )
    if fit is not None and gen is not None and gen > fit:
        drawn.append(
            ax.axvspan(
                fit,
                gen,
                color=BAND_COLOR,
                alpha=0.08,
                label="train fit, test not yet generalised" if label else "_nolegend_",
            )
        )
    return drawn


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


def transition_title(grokking: GrokkingSteps) -> str:
    """A one-line summary of the transition for a figure title."""
    fit, gen, ratio = grokking.fit_step, grokking.generalize_step, grokking.delay_ratio
    if fit is None and gen is None:
        return "no grokking transition recorded"
    parts = [
        f"train fit at step {fit:,}" if fit is not None else "train never fit",
        f"test generalised at step {gen:,}" if gen is not None else "test never generalised",
    ]
    text = ", ".join(parts)
    if ratio is not None:
        text += f" ({ratio:.3g}× later)"
    return text


def no_data(ax: Axes, what: str) -> None:
    """Mark a panel whose metrics are not in the store, instead of leaving it blank."""
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
