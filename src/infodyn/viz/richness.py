"""Dynamical-richness figure: the paper's three spectral panels (Nam et al., arXiv 2410.04264).

Panels, each against the mode index k (log axis) of the feature second moment G = ΦᵀΦ/n:
(i) cumulative quality Π*(k) — how much of the one-hot targets the top k eigenfunctions
express; (ii) cumulative utilisation Π̂(k) — how much of the learned outputs they carry;
(iii) relative feature norms ρ_k/ρ_1 (log y). A dotted line marks k = C. Rich: Π̂ saturates by
k ≈ C and ρ_k/ρ_1 drops after about C modes; lazy: both spread over many modes.

Legends give D_LR under the name of its reading: "D_LR" for the default ``span="outputs"``
(stored as ``d_lr``), "D_LR with constant" for ``span="outputs_and_constant"`` (stored as
``d_lr_with_constant``); see :func:`infodyn.functional.richness.d_lr`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from infodyn.functional.richness import D_LR_METRIC, RichnessResult
from infodyn.store import Array, RunStore
from infodyn.viz._style import add_figure_legend, new_figure, no_data

__all__ = ["RICHNESS_ARRAYS", "RICHNESS_METRICS", "plot_richness", "plot_richness_curves"]

#: Scalar metrics that signal a richness measurement (what a figure registry can test for):
#: D_LR under each reading's name, default reading first.
RICHNESS_METRICS = tuple(D_LR_METRIC.values())
#: How a legend names each reading's stored D_LR.
_D_LR_LABELS = {"d_lr": "D_LR", "d_lr_with_constant": "D_LR with constant"}
#: The arrays the panels read, in panel order.
RICHNESS_ARRAYS = ("quality_cumulative", "utilization_cumulative", "relative_norms")
#: At most this many checkpoints are drawn, spread evenly in log(step).
MAX_CHECKPOINTS = 6

_PANELS = (
    ("cumulative quality Π*(k)", "(i) quality: targets in the top k modes", "quality Π*"),
    ("cumulative utilisation Π̂(k)", "(ii) utilisation: outputs in the top k modes", "Π̂"),
    ("relative feature norm ρ_k / ρ_1", "(iii) feature spectrum", "ρ_k/ρ_1"),
)
_SPLIT_PREFERENCE = ("train", "test")


def _pick_checkpoints(steps: Sequence[int], count: int = MAX_CHECKPOINTS) -> list[int]:
    """Up to ``count`` of ``steps`` spread evenly in log(1 + step), first and last included."""
    ordered = sorted(set(steps))
    if len(ordered) <= count:
        return ordered
    targets = np.expm1(np.linspace(np.log1p(ordered[0]), np.log1p(ordered[-1]), count))
    chosen = {min(ordered, key=lambda s: abs(s - t)) for t in targets}
    return sorted(chosen)


def _source(store: RunStore) -> tuple[str, str] | None:
    """(split, layer) to draw: train first, then test, then any; the first layer by name."""
    found = {(s, lay) for m, s, lay in store.array_keys() if m == "utilization_cumulative"}
    if not found:
        return None
    rank = {name: i for i, name in enumerate(_SPLIT_PREFERENCE)}
    splits = sorted({s for s, _ in found}, key=lambda s: (rank.get(s, len(rank)), s))
    split = splits[0]
    return split, min(lay for s, lay in found if s == split)


def _scalar_at(store: RunStore, metric: str, split: str, layer: str) -> dict[int, float]:
    return {r.step: r.value for r in store.scalars(metric=metric, split=split, layer=layer)}


def _d_lr_text(values: Mapping[str, float]) -> str:
    """The readings stored at one step, as "D_LR 0.123, D_LR with constant 0.145"."""
    return ", ".join(f"{_D_LR_LABELS[name]} {v:.3f}" for name, v in values.items())


def _style_panel(
    ax: Axes, ylabel: str, title: str, *, log_y: bool, num_classes: int | None
) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("mode k (eigenfunctions of ΦᵀΦ/n, by decreasing ρ_k)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(-0.03, 1.05)
    if num_classes is not None:
        ax.axvline(
            num_classes, color="0.3", linestyle=":", linewidth=1.3, label=f"k = C = {num_classes}"
        )


def _draw(ax: Axes, values: np.ndarray, *, color: object, label: str, log_y: bool) -> None:
    k = np.arange(1, values.size + 1)
    if log_y:  # null modes (ρ = 0) cannot be drawn on a log axis
        keep = values > 0
        k, values = k[keep], values[keep]
    ax.plot(k, values, color=color, linewidth=1.8, label=label)


def _shared_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels (the fullest panel's entries): the curves are the same
    checkpoints or runs in every panel, and a legend inside would cover the rising curves."""
    fullest = max(axes, key=lambda ax: len(ax.get_lines()))
    handles = [line for line in fullest.get_lines() if not line.get_label().startswith("_")]
    add_figure_legend(fig, list(handles))


def plot_richness(store: RunStore) -> tuple[Figure, np.ndarray]:
    """The three richness panels, one curve per stored checkpoint, coloured by step.

    Reads the arrays ``quality_cumulative``, ``utilization_cumulative`` and ``relative_norms``
    written by :class:`infodyn.metrics.richness.Richness` through the monitor, on the ``train``
    split when present (else ``test``, else the first), for the first layer by name. At most
    :data:`MAX_CHECKPOINTS` steps are drawn, spread in log(step); each legend entry gives the
    step and, when stored, its D_LR under each stored reading (``d_lr``: "D_LR",
    ``d_lr_with_constant``: "D_LR with constant"). C for the k = C line is the last stored
    scalar ``num_classes`` (the metric writes it); without it no line is drawn.

    Args:
        store: A run store; panels whose arrays are missing say so.

    Returns:
        ``(fig, axes)`` with ``axes`` an array of the 3 panels.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Array, Scalar
        >>> curve = np.linspace(0.2, 1.0, 16)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write(
        ...             [Scalar(s, "train", "d_lr", 0.5, "fc") for s in (0, 10)],
        ...             [Array(s, "train", m, curve, "fc") for s in (0, 10) for m in
        ...              ("utilization_cumulative", "relative_norms")],
        ...         )
        ...         fig, axes = plot_richness(store)
        >>> len(axes), len(axes[1].lines)
        (3, 2)
    """
    fig, axes = new_figure(3, width_per_panel=5.0, height=4.3)
    source = _source(store)
    if source is None:
        for ax in axes:
            no_data(ax, "richness curves")
        return fig, axes
    split, layer = source
    records: dict[str, dict[int, Array]] = {
        name: {a.step: a for a in store.arrays(metric=name, split=split, layer=layer)}
        for name in RICHNESS_ARRAYS
    }
    steps = _pick_checkpoints(list(records["utilization_cumulative"]))
    d_lr = {name: _scalar_at(store, name, split, layer) for name in RICHNESS_METRICS}
    classes = _scalar_at(store, "num_classes", split, layer)
    num_classes = int(classes[max(classes)]) if classes else None
    cmap = colormaps["viridis"]
    colours = {s: cmap(x) for s, x in zip(steps, np.linspace(0.0, 0.85, len(steps)), strict=True)}
    for ax, name, (ylabel, title, what) in zip(axes, RICHNESS_ARRAYS, _PANELS, strict=True):
        log_y = name == "relative_norms"
        drawn = [s for s in steps if s in records[name]]
        if not drawn:
            no_data(ax, what)
            continue
        _style_panel(ax, ylabel, title, log_y=log_y, num_classes=num_classes)
        for s in drawn:
            stored = {name: v[s] for name, v in d_lr.items() if s in v}
            label = f"step {s:,}" + (f" — {_d_lr_text(stored)}" if stored else "")
            _draw(
                ax, np.asarray(records[name][s].value), color=colours[s], label=label, log_y=log_y
            )
    _shared_legend(fig, axes)
    where = f"{split}" + (f", layer {layer}" if layer else "")
    fig.suptitle(f"Dynamical richness — spectral view ({where})")
    return fig, axes


def plot_richness_curves(
    curves: Mapping[str, RichnessResult], num_classes: int | None = None
) -> tuple[Figure, np.ndarray]:
    """The three richness panels for several in-memory results, one curve per run.

    Args:
        curves: run name → :class:`RichnessResult` (e.g. ``{"rich": ..., "lazy": ...}``);
            a run without targets is left out of panel (i). The legend names each result's
            D_LR by its ``span``.
        num_classes: C, marked as a dotted line at k = C; None draws no line.

    Returns:
        ``(fig, axes)`` with ``axes`` an array of the 3 panels.

    Example:
        >>> import torch
        >>> from infodyn.functional.richness import richness
        >>> x = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
        >>> result = richness(x, x[:, :3], torch.arange(200) % 3)
        >>> fig, axes = plot_richness_curves({"toy": result}, num_classes=3)
        >>> [len(ax.lines) for ax in axes]  # the curve and the k = C line
        [2, 2, 2]
    """
    fig, axes = new_figure(3, width_per_panel=5.0, height=4.3)
    colours = colormaps["tab10"]
    for ax, name, (ylabel, title, what) in zip(axes, RICHNESS_ARRAYS, _PANELS, strict=True):
        log_y = name == "relative_norms"
        if all(getattr(r, name) is None for r in curves.values()):
            no_data(ax, what)
            continue
        _style_panel(ax, ylabel, title, log_y=log_y, num_classes=num_classes)
        for i, run in enumerate(curves):
            value = getattr(curves[run], name)
            if value is None:
                continue
            reading = D_LR_METRIC[curves[run].span]
            label = f"{run} — {_d_lr_text({reading: float(curves[run].d_lr)})}"
            values = value.detach().cpu().numpy()
            _draw(ax, values, color=colours(i % 10), label=label, log_y=log_y)
    _shared_legend(fig, axes)
    fig.suptitle("Dynamical richness — spectral view")
    return fig, axes
