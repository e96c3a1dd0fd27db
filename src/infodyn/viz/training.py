"""Training curves: accuracy and loss against step, with the grokking transition marked."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

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

__all__ = ["plot_training_curves"]

_SPLIT_COLOR = {"train": "tab:blue", "test": "tab:orange"}


def plot_training_curves(store: RunStore) -> tuple[Figure, np.ndarray]:
    """Accuracy (left) and loss (right, log y) against step for every split in the store.

    Train is solid, test dashed; the step axis is symlog so step 0 is kept. Vertical lines
    mark where train accuracy reaches 0.99 and test accuracy reaches 0.9
    (:func:`infodyn.analysis.grokking_steps`), with the stretch between them shaded. One legend
    under both panels explains splits and markers.

    Args:
        store: A run store with ``accuracy`` and/or ``loss`` scalars; a missing metric leaves
            its panel saying so.

    Returns:
        ``(fig, axes)`` with ``axes`` an array of the 2 panels.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(s, "train", "loss", 1 / (s + 1)) for s in range(5)])
        ...         fig, axes = plot_training_curves(store)
        >>> axes.shape, len(axes[1].lines)
        ((2,), 1)
    """
    grokking = grokking_steps(store)
    fig, axes = new_figure(2)
    panels = (
        (axes[0], "accuracy", "accuracy", False),
        (axes[1], "loss", "loss (log scale)", True),
    )
    markers: list[Artist] = []
    # Both panels show the same splits in the same styles: one shared legend under them.
    split_handles: dict[str, Artist] = {}
    for ax, metric, ylabel, log_y in panels:
        splits = ordered_splits(store, metric)
        ax.set_title(metric.capitalize())
        if not splits:
            no_data(ax, metric)
            continue
        for split in splits:
            steps, values, _ = layer_series(store, metric, split)
            (line,) = ax.plot(
                steps,
                values,
                linestyle=split_linestyle(split),
                color=_SPLIT_COLOR.get(split),
                linewidth=1.8,
                label=split,
            )
            split_handles.setdefault(split, line)
        if log_y:
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.02, 1.02)  # accuracies are fractions in [0, 1]
        set_step_axis(ax)
        drawn = mark_transition(ax, grokking, label=not markers)
        markers = markers or drawn
        ax.set_ylabel(ylabel)
    add_figure_legend(fig, [*split_handles.values(), *markers])
    fig.suptitle(f"Training curves — {transition_title(grokking)}")
    return fig, axes
