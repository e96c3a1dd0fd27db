"""Training curves: accuracy and loss against step, with the experiment's step markers."""

from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers
from infodyn.viz._style import (
    add_figure_legend,
    layer_series,
    mark_steps,
    new_figure,
    no_data,
    ordered_splits,
    set_step_axis,
    split_linestyle,
    titled,
)

__all__ = ["plot_training_curves"]

_SPLIT_COLOR = {"train": "tab:blue", "test": "tab:orange"}


def plot_training_curves(
    store: RunStore, markers: StepMarkers = NO_MARKERS
) -> tuple[Figure, np.ndarray]:
    """Accuracy (left) and loss (right, log y) against step for every split in the store.

    Train is solid, test dashed; the step axis is symlog so step 0 is kept. The experiment's
    step markers (e.g. grokking's fit and generalisation steps, the delay between them shaded)
    are drawn on both panels. One legend under both panels explains splits and markers.

    Args:
        store: A run store with ``accuracy`` and/or ``loss`` scalars; a missing metric leaves
            its panel saying so.
        markers: Vertical lines, shaded stretches and a title caption from the experiment.

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
    fig, axes = new_figure(2)
    panels = (
        (axes[0], "accuracy", "accuracy", False),
        (axes[1], "loss", "loss (log scale)", True),
    )
    legend_markers: list[Artist] = []
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
        drawn = mark_steps(ax, markers, label=not legend_markers)
        legend_markers = legend_markers or drawn
        ax.set_ylabel(ylabel)
    add_figure_legend(fig, [*split_handles.values(), *legend_markers])
    fig.suptitle(titled("Training curves", markers))
    return fig, axes
