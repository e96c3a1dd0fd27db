"""Transfer-entropy figures: the TE information plane and TE per layer pair against step."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers
from infodyn.viz._style import add_figure_legend, mark_steps, new_figure, no_data, set_step_axis

__all__ = ["TE_METRICS", "plot_transfer_entropy"]

#: Metrics this figure reads: the plane coordinates (per hidden layer) and pair means.
TE_METRICS = ("te_in", "te_out", "te_mean")
_PLANE_SPLIT_PREFERENCE = ("train", "test")


def _split_for(store: RunStore, metric: str) -> str | None:
    splits = {s for m, s, _ in store.keys() if m == metric}
    for split in _PLANE_SPLIT_PREFERENCE:
        if split in splits:
            return split
    return min(splits) if splits else None


def plot_transfer_entropy(
    store: RunStore, markers: StepMarkers = NO_MARKERS
) -> tuple[Figure, np.ndarray]:
    """Left: the TE plane, one trajectory per hidden layer, x = TE(prev → layer), y = TE(layer →
    next) (pair means, bits), coloured by step. Right: mean TE of each adjacent layer pair
    against step, with the experiment's step ``markers``. Uses the ``train`` split when present.
    """
    fig, axes = new_figure(2)
    plane, pairs = axes
    split = _split_for(store, "te_in")
    hidden = sorted({lay for m, s, lay in store.keys() if m == "te_in" and s == split})
    steps_all = [store.series("te_in", split, layer=h)[0] for h in hidden] if split else []
    top = max((int(s.max()) for s in steps_all if s.size), default=1)
    norm: Normalize = LogNorm(vmin=1, vmax=max(top, 2)) if top > 1 else Normalize(0, 1)
    cmap = colormaps["viridis"]
    shapes = "osD^v<>"
    for k, layer in enumerate(hidden):
        assert split is not None
        steps, x = store.series("te_in", split, layer=layer)
        steps_out, y = store.series("te_out", split, layer=layer)
        common, ix, iy = np.intersect1d(steps, steps_out, return_indices=True)
        x, y = x[ix], y[iy]
        plane.plot(x, y, color="0.6", linewidth=0.8, zorder=1)
        points = plane.scatter(
            x, y, c=np.maximum(common, 1), cmap=cmap, norm=norm, marker=shapes[k % len(shapes)],
            label=f"layer {layer}", zorder=2, edgecolors="k", linewidths=0.3,
        )  # fmt: skip
        if k == 0:
            fig.colorbar(points, ax=plane, label="training step")
    if hidden:
        # TE near the plug-in bias is ~1e-4 bits: scientific ticks keep the labels readable.
        plane.ticklabel_format(style="sci", scilimits=(-2, 3))
        plane.xaxis.set_major_locator(MaxNLocator(5))
        plane.set_xlabel("TE into the layer, TE(L−1 → L) (bits, pair mean)")
        plane.set_ylabel("TE out of the layer, TE(L → L+1) (bits, pair mean)")
        plane.set_title(f"TE information plane ({split})")
        plane.legend(loc="best", fontsize="small")
    else:
        no_data(plane, "TE plane (needs a hidden layer between two others)")

    pair_split = _split_for(store, "te_mean")
    pair_layers = sorted({lay for m, s, lay in store.keys() if m == "te_mean" and s == pair_split})
    pair_lines = []
    for layer in pair_layers:
        assert pair_split is not None
        steps, values = store.series("te_mean", pair_split, layer=layer)
        pair_lines.extend(pairs.plot(steps, values, marker=".", label=layer))
    if pair_layers:
        set_step_axis(pairs)
        pairs.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        pairs.set_ylabel("mean TE over neuron pairs (bits)")
        pairs.set_title(f"TE per adjacent layer pair ({pair_split})")
        drawn = mark_steps(pairs, markers)
        pairs.legend(handles=pair_lines, loc="best", fontsize="small")
        add_figure_legend(fig, drawn)
    else:
        no_data(pairs, "TE per layer pair")
    return fig, axes
