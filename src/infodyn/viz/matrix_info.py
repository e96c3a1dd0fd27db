"""Matrix-information figure: MIR/HDR and the two matrix entropies against step."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from infodyn.analysis import grokking_steps
from infodyn.store import RunStore
from infodyn.viz._style import (
    add_figure_legend,
    layer_series,
    mark_transition,
    new_figure,
    no_data,
    ordered_splits,
    set_step_axis,
    split_linestyle,
    transition_title,
)

__all__ = ["MATRIX_INFO_METRICS", "plot_matrix_information"]

#: (metric name in the store, legend label, colour) per panel.
_RATIOS = (("mir", "MIR", "tab:purple"), ("hdr", "HDR", "tab:red"))
_ENTROPIES = (
    ("entropy_features", "H(features)", "tab:blue"),
    ("entropy_head", "H(head)", "tab:brown"),
)
#: Every metric this figure can draw; the figure is drawn when any of them is stored.
MATRIX_INFO_METRICS = tuple(m for m, _, _ in _RATIOS + _ENTROPIES)


_Curve = tuple[str, str, str, np.ndarray, np.ndarray, str]  # label, colour, split, x, y, layer


def _metric_curves(store: RunStore, metric: str, label: str, color: str) -> list[_Curve]:
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


def _draw_panel(
    ax: Axes, store: RunStore, metrics: tuple[tuple[str, str, str], ...], what: str
) -> list[Line2D]:
    """Plot each metric × split of one panel and return the curves (empty when none is stored).

    A layer shared by every curve goes in the title; when curves come from different layers,
    each legend entry names its own.
    """
    found = [
        c for metric, label, color in metrics for c in _metric_curves(store, metric, label, color)
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


def plot_matrix_information(store: RunStore) -> tuple[Figure, np.ndarray]:
    """MIR and HDR (left) and the matrix entropies of features and head (right) against step.

    Reads the scalars ``mir``, ``hdr``, ``entropy_features`` and ``entropy_head`` (entropies in
    nats) for every split: train solid, test dashed; a metric whose series is identical on all
    splits (a property of the weights, like the head's entropy) is drawn once, solid, labelled
    e.g. ``H(head) train = test``. Where a metric is stored for several
    layers, the first layer by name is drawn and named in the panel title. The step axis and
    the grokking markers match :func:`infodyn.viz.training.plot_training_curves`.

    Args:
        store: A run store; a panel whose metrics are all missing says so.

    Returns:
        ``(fig, axes)`` with ``axes`` an array of the 2 panels.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(s, "train", "mir", 0.1 * s, layer="fc") for s in range(5)])
        ...         fig, axes = plot_matrix_information(store)
        >>> len(axes), len(axes[0].lines), axes[0].get_title()
        (2, 1, 'Matrix information ratios — layer fc')
    """
    grokking = grokking_steps(store)
    fig, axes = new_figure(2)
    panels = (
        (axes[0], _RATIOS, "Matrix information ratios", "ratio (MIR, HDR)", "MIR/HDR"),
        (axes[1], _ENTROPIES, "Matrix entropies", "matrix entropy (nats)", "matrix entropies"),
    )
    markers: list[Artist] = []
    for ax, metrics, title, ylabel, what in panels:
        ax.set_title(title)
        curves = _draw_panel(ax, store, metrics, what)
        if not curves:
            continue
        set_step_axis(ax)
        drawn = mark_transition(ax, grokking, label=not markers)
        markers = markers or drawn
        ax.set_ylabel(ylabel)
        ax.legend(handles=curves, loc="best", fontsize="small")
    add_figure_legend(fig, markers)
    fig.suptitle(f"Matrix information — {transition_title(grokking)}")
    return fig, axes
