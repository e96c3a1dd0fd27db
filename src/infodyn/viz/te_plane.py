"""Figures of per-epoch transfer entropy against its surrogate null (``infodyn run te-plane``).

Each figure reads the per-epoch records of ``LayerTransferEntropy`` probes named with a delay
suffix (``te_mean_lag1``, ``te_mean_lag0``, …) through :func:`infodyn.te_analysis.read_lag`, one
row per delay (1, the paper's, first). The x axis is the epoch, ``step / steps_per_epoch``.
Raw TE is never shown alone: the plug-in estimate sits above zero by its bias (~1/(N ln 2)
bits), so every TE curve comes with its null (the mean and ±2 sd, or the 95th percentile, of
the pair-mean TE over source-shuffle surrogates of the same epoch's series).
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from infodyn.functional.te_trends import spearman
from infodyn.store import RunStore
from infodyn.te_analysis import LagRecords, lag_delays, read_lag
from infodyn.viz._style import no_data

__all__ = [
    "plot_te_epochs",
    "plot_te_plane_epochs",
    "plot_te_significance",
    "plot_te_within_epoch",
]

_CMAP = colormaps["viridis"]
_PAIR_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
_SPLIT_COLOR = {"train": "tab:blue", "test": "tab:orange"}


def _lag_title(delay: int) -> str:
    return f"lag {delay} (paper)" if delay == 1 else f"lag {delay} (infodyn extension)"


def _epochs(records: LagRecords, steps_per_epoch: int) -> np.ndarray:
    return records.steps / steps_per_epoch


def _lags(store: RunStore) -> list[LagRecords]:
    return [read_lag(store, d) for d in lag_delays(store)]


def _figure(
    nrows: int, ncols: int, width: float = 4.6, height: float = 3.4
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width * ncols + 1.2, height * nrows + 0.8), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False), dtype=object)
    return fig, axes


def _sci(ax: Axes) -> None:
    # TE near the plug-in bias is ~1e-3 bits: scientific ticks keep the labels short.
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))


def _empty(what: str) -> tuple[Figure, np.ndarray]:
    fig, axes = _figure(1, 1)
    no_data(axes[0, 0], what)
    return fig, axes


def plot_te_plane_epochs(store: RunStore, steps_per_epoch: int) -> tuple[Figure, np.ndarray]:
    """The TE plane of each hidden layer, one panel per delay, points coloured by epoch.

    A hidden layer T is at x = TE(layer before → T), y = TE(T → layer after) (pair means,
    bits); consecutive epochs are joined. The dashed box of each layer reaches the 95th
    percentiles of the two pairs' nulls (averaged over epochs): a point inside it is within
    what the estimator gives for series without any temporal relation.
    """
    lags = _lags(store)
    if not lags:
        return _empty("per-epoch TE (te_mean_lag*)")
    fig, axes = _figure(1, len(lags), width=5.2, height=4.4)
    shapes = "osD^v<>"
    for ax, rec in zip(axes[0], lags, strict=True):
        names = list(rec.pairs)
        epochs = _epochs(rec, steps_per_epoch)
        norm = Normalize(epochs.min(), max(epochs.max(), epochs.min() + 1))
        points = None
        for k, (before, after) in enumerate(itertools.pairwise(names)):
            layer = before.split("->", 1)[1]
            x, y = rec.pairs[before].te_mean, rec.pairs[after].te_mean
            color = _PAIR_COLORS[k % len(_PAIR_COLORS)]
            ax.plot(x, y, color="0.6", linewidth=0.8, zorder=1)
            points = ax.scatter(
                x, y, c=epochs, cmap=_CMAP, norm=norm, marker=shapes[k % len(shapes)],
                edgecolors=color, linewidths=0.9, zorder=2, label=f"layer {layer}",
            )  # fmt: skip
            null_in, null_out = rec.pairs[before].null, rec.pairs[after].null
            if null_in is not None and null_out is not None:
                box = Rectangle(
                    (0, 0), float(np.quantile(null_in, 0.95, axis=1).mean()),
                    float(np.quantile(null_out, 0.95, axis=1).mean()),
                    fill=False, edgecolor=color, linestyle="--", linewidth=1.0,
                    label=f"null 95 % (layer {layer})",
                )  # fmt: skip
                ax.add_patch(box)
        if points is None:
            no_data(ax, "TE plane (needs two hidden layers)")
            continue
        fig.colorbar(points, ax=ax, label="epoch")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.ticklabel_format(style="sci", scilimits=(-2, 3))
        ax.set_xlabel("TE into the layer, TE(L−1 → L) (bits, pair mean)")
        ax.set_ylabel("TE out of the layer, TE(L → L+1) (bits)")
        ax.set_title(f"TE plane — {_lag_title(rec.delay)}")
        ax.legend(loc="best", fontsize="x-small")
    fig.suptitle("TE information plane per epoch, against the surrogate null")
    return fig, axes


def _null_band(ax: Axes, epochs: np.ndarray, null: np.ndarray | None, label: bool) -> None:
    if null is None:
        return
    mean, sd = null.mean(axis=1), null.std(axis=1)
    ax.fill_between(
        epochs, mean - 2 * sd, mean + 2 * sd, color="0.5", alpha=0.25, lw=0,
        label="null mean ± 2 sd" if label else "_nolegend_",
    )  # fmt: skip
    ax.plot(epochs, mean, color="0.35", linestyle="--", linewidth=1.0, label="_nolegend_")


def _train_series(store: RunStore, metric: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    if (metric, split, "") not in set(store.keys()):
        return None
    return store.series(metric, split, "")


def plot_te_epochs(store: RunStore, steps_per_epoch: int) -> tuple[Figure, np.ndarray]:
    """TE of every layer pair against epoch with its null band, one row per delay; last row:
    loss and accuracy (training: the epoch's batches; test: an evaluation pass at its end) and
    the mean TE over pairs against the training loss, coloured by epoch.

    Each TE panel's title gives Spearman ρ of that pair's TE with the training loss.
    """
    lags = _lags(store)
    if not lags:
        return _empty("per-epoch TE (te_mean_lag*)")
    ncols = max(3, max(len(r.pairs) for r in lags))
    fig, axes = _figure(len(lags) + 1, ncols)
    loss = _train_series(store, "loss", "train")
    for row, rec in zip(axes[:-1], lags, strict=True):
        epochs = _epochs(rec, steps_per_epoch)
        train_loss = _on_steps(loss, rec.steps)
        for col, (ax, (name, pair)) in enumerate(zip(row, rec.pairs.items(), strict=False)):
            ax.plot(
                epochs, pair.te_mean, marker=".", color=_PAIR_COLORS[col], label="TE (pair mean)"
            )
            _null_band(ax, epochs, pair.null, label=True)
            rho = None if train_loss is None else spearman(pair.te_mean, train_loss)
            extra = "" if rho is None else f"  ρ(TE, loss) = {rho:+.2f}"
            ax.set_title(f"{name} — {_lag_title(rec.delay)}\n{extra}", fontsize="medium")
            ax.set_xlabel("epoch")
            ax.set_ylabel("TE (bits)")
            _sci(ax)
            ax.legend(loc="best", fontsize="x-small")
        for ax in row[len(rec.pairs) :]:
            ax.set_visible(False)
    _draw_training_row(store, axes[-1], lags[0], steps_per_epoch)
    fig.suptitle("Transfer entropy per layer pair and epoch, with its surrogate null")
    return fig, axes


def _on_steps(series: tuple[np.ndarray, np.ndarray] | None, steps: np.ndarray) -> np.ndarray | None:
    if series is None:
        return None
    table = dict(zip(series[0].tolist(), series[1].tolist(), strict=True))
    if not all(int(s) in table for s in steps):
        return None
    return np.asarray([table[int(s)] for s in steps])


def _draw_training_row(
    store: RunStore, row: np.ndarray, rec: LagRecords, steps_per_epoch: int
) -> None:
    for ax, metric in zip(row[:2], ("loss", "accuracy"), strict=True):
        drawn = False
        for split in ("train", "test"):
            series = _train_series(store, metric, split)
            if series is None:
                continue
            drawn = True
            ax.plot(
                series[0] / steps_per_epoch, series[1], color=_SPLIT_COLOR[split],
                linestyle="-" if split == "train" else "--",
                label=f"{split} ({'epoch batches' if split == 'train' else 'eval pass'})",
            )  # fmt: skip
        if not drawn:
            no_data(ax, metric)
            continue
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{metric}{' (nats)' if metric == 'loss' else ''}")
        ax.set_title(metric.capitalize())
        ax.legend(loc="best", fontsize="x-small")
    ax = row[2]
    train_loss = _on_steps(_train_series(store, "loss", "train"), rec.steps)
    if train_loss is None:
        no_data(ax, "training loss per epoch")
    else:
        te = rec.network.te_mean
        epochs = _epochs(rec, steps_per_epoch)
        points = ax.scatter(train_loss, te, c=epochs, cmap=_CMAP, edgecolors="k", linewidths=0.3)
        ax.figure.colorbar(points, ax=ax, label="epoch")
        rho = spearman(te, train_loss)
        text = "undefined" if rho is None else f"{rho:+.2f}"
        ax.set_title(f"Mean TE over pairs vs loss, {_lag_title(rec.delay)}\nρ = {text}")
        ax.set_xlabel("training loss of the epoch (nats)")
        ax.set_ylabel("TE (bits, mean over pairs)")
        _sci(ax)
    for ax in row[3:]:
        ax.set_visible(False)


def plot_te_significance(store: RunStore, steps_per_epoch: int) -> tuple[Figure, np.ndarray]:
    """Per delay: TE minus its null mean per layer pair (left; 0 = the estimator's bias) and
    the fraction of neuron pairs with p < 0.05 (right; ≈ 0.05 or less under the null)."""
    lags = [r for r in _lags(store) if any(p.excess is not None for p in r.pairs.values())]
    if not lags:
        return _empty("significance (te_excess_lag*)")
    fig, axes = _figure(len(lags), 2)
    for row, rec in zip(axes, lags, strict=True):
        epochs = _epochs(rec, steps_per_epoch)
        left, right = row
        for k, (name, pair) in enumerate(rec.pairs.items()):
            color = _PAIR_COLORS[k % len(_PAIR_COLORS)]
            if pair.excess is not None:
                left.plot(epochs, pair.excess, marker=".", color=color, label=name)
            if pair.sig_fraction is not None:
                right.plot(epochs, pair.sig_fraction, marker=".", color=color, label=name)
        left.axhline(0, color="0.3", linewidth=0.8)
        left.set_title(f"TE − null mean — {_lag_title(rec.delay)}")
        left.set_ylabel("excess TE (bits, mean over neuron pairs)")
        _sci(left)
        right.axhline(0.05, color="0.3", linestyle=":", label="0.05 (null level)")
        highest = max(
            (float(p.sig_fraction.max()) for p in rec.pairs.values() if p.sig_fraction is not None),
            default=0.0,
        )
        # Fractions near the 0.05 chance level would be flat lines on a 0-1 axis.
        right.set_ylim(0.0, min(1.0, max(0.1, 1.15 * highest)))
        right.set_title(f"Neuron pairs with p < 0.05 — {_lag_title(rec.delay)}")
        right.set_ylabel("fraction of neuron pairs")
        for ax in row:
            ax.set_xlabel("epoch")
            ax.legend(loc="best", fontsize="x-small")
    fig.suptitle("Transfer entropy against source-shuffle surrogates of each epoch's series")
    return fig, axes


def plot_te_within_epoch(store: RunStore, steps_per_epoch: int) -> tuple[Figure, np.ndarray]:
    """Within each epoch, per delay (mean over layer pairs), one line per epoch by colour.

    Left: TE over the epoch's first 1/P, 2/P, …, all of its samples (the growing window the
    authors' code re-estimates after every batch) with the null of each window (black: mean
    over epochs ± 2 sd): the null falls with the window too, by the bias 1/(N ln 2). Right: TE
    minus its null over P consecutive equal parts of the epoch: a fall from the first part to
    the last is compression within the epoch that the bias does not explain.
    """
    lags = [r for r in _lags(store) if "prefix_mean" in r.network.windows]
    if not lags:
        return _empty("within-epoch windows (te_prefix_mean_lag*)")
    fig, axes = _figure(len(lags), 2)
    for row, rec in zip(axes, lags, strict=True):
        w = rec.network.windows
        epochs = _epochs(rec, steps_per_epoch)
        norm = Normalize(epochs.min(), max(epochs.max(), epochs.min() + 1))
        parts = w["prefix_mean"].shape[1]
        fraction = np.arange(1, parts + 1) / parts
        left, right = row
        for e, te in zip(epochs, w["prefix_mean"], strict=True):
            left.plot(fraction, te, color=_CMAP(norm(e)), linewidth=1.0, marker=".")
        null, sd = w["prefix_null_mean"].mean(axis=0), w["prefix_null_std"].mean(axis=0)
        left.fill_between(fraction, null - 2 * sd, null + 2 * sd, color="0.2", alpha=0.15, lw=0)
        left.plot(
            fraction, null, color="k", linestyle="--", linewidth=1.5, label="null mean ± 2 sd"
        )
        left.set_xlabel("fraction of the epoch's samples seen (growing window)")
        left.set_ylabel("TE (bits, mean over pairs)")
        left.set_title(f"Growing window — {_lag_title(rec.delay)}")
        _sci(left)
        excess = w["segment_mean"] - w["segment_null_mean"]
        index = np.arange(1, excess.shape[1] + 1)
        for e, values in zip(epochs, excess, strict=True):
            right.plot(index, values, color=_CMAP(norm(e)), linewidth=1.0, marker=".")
        right.plot(index, excess.mean(axis=0), color="k", linewidth=2.2, label="mean over epochs")
        right.axhline(0, color="0.3", linewidth=0.8)
        right.set_xticks(index)
        right.set_xlabel(f"part of the epoch (1 … {excess.shape[1]}, equal lengths)")
        right.set_ylabel("TE − null mean (bits, mean over pairs)")
        right.set_title(f"Consecutive parts — {_lag_title(rec.delay)}")
        _sci(right)
        for ax in row:
            ax.legend(loc="best", fontsize="x-small")
        mappable = right.scatter([], [], c=[], cmap=_CMAP, norm=norm)
        fig.colorbar(mappable, ax=right, label="epoch")
    fig.suptitle("Transfer entropy within each epoch, against the null of each window")
    return fig, axes
