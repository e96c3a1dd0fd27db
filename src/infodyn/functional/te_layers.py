"""Transfer entropy across a stack of layers: adjacent-pair matrices, summaries, TE plane.

As in Moldovan, Caţaron & Andonie's code (github.com/avmoldovan/CNN-TE, ``NNutils.calc_fc``;
the code of their 2021 CNN paper, which their 2024 TE information-plane paper, arXiv
2404.01364, most likely reuses): TE of every ordered neuron pair (i in layer L, j in layer
L+1), direction forward, the output layer being the softmax probabilities, and one number per
layer pair, the mean over its pairs (that code logs the matrix's min, max, mean and std; sum
and max are kept here).

infodyn's choices, which the paper's available text does not settle: every adjacent pair of
the stack is measured (the code measures only the last one); a conv layer's neuron is a
channel (``neuron_series``: spatial mean); and the TE information plane puts each hidden layer
T_m at x = TE(L_{m−1} → T_m) (information arriving) and y = TE(T_m → L_{m+1}) (information
passed on), because these are the TE counterparts of the (I(X;T), I(T;Y)) axes of
Shwartz-Ziv & Tishby's information plane.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from torch import Tensor

from infodyn._validation import check_choice
from infodyn.functional.binarize import binarize
from infodyn.functional.neurons import neuron_series
from infodyn.functional.te import transfer_entropy

__all__ = [
    "LayerPairTransferEntropy",
    "layer_transfer_entropy",
    "te_information_plane",
]

Statistic = Literal["mean", "max", "sum"]
STATISTICS: tuple[Statistic, ...] = ("mean", "max", "sum")


class LayerPairTransferEntropy(NamedTuple):
    """TE from every neuron of ``source`` to every neuron of ``target`` (bits)."""

    source: str
    target: str
    matrix: Tensor  # (n_source, n_target) float64
    mean: float
    max: float
    sum: float

    def statistic(self, name: Statistic) -> float:
        """The named summary: ``"mean"`` (the authors' logged summary), ``"max"`` or ``"sum"``."""
        return float(getattr(self, check_choice("statistic", name, STATISTICS)))


def layer_transfer_entropy(
    layers: Mapping[str, Tensor],
    *,
    q: float | None = 0.95,
    delay: int = 1,
    chunk_size: int | None = None,
) -> list[LayerPairTransferEntropy]:
    """TE matrices and summaries for each adjacent pair of an ordered layer stack.

    Args:
        layers: layer name → activations over the same T samples in processing order, in
            forward order (e.g. ``{"conv1": …, "fc1": …, "softmax": probs}``); each is turned
            into (T, neurons) by :func:`~infodyn.functional.neuron_series` (conv maps → channel
            means).
        q: percentile for :func:`binarize` with one threshold per layer over all T samples
            (``layer_epoch`` scope); None when the inputs are already binary.
        delay: source→target lag (default 1).
        chunk_size: time steps per matrix product (memory knob).

    Returns:
        One :class:`LayerPairTransferEntropy` per adjacent pair, in order.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> acts = {"a": torch.randn(500, 4, generator=g), "b": torch.randn(500, 3, generator=g)}
        >>> (pair,) = layer_transfer_entropy(acts)
        >>> pair.source, pair.target, tuple(pair.matrix.shape)
        ('a', 'b', (4, 3))
    """
    if len(layers) < 2:
        raise ValueError(
            f"layers must hold at least 2 layers to form an adjacent pair, got {list(layers)}"
        )
    names = list(layers)
    series = {}
    for name in names:
        x = neuron_series(layers[name])
        series[name] = x if q is None else binarize(x, q, scope="layer")
    pairs = []
    for source, target in itertools.pairwise(names):
        matrix = transfer_entropy(
            series[source], series[target], delay=delay, chunk_size=chunk_size
        )
        pairs.append(
            LayerPairTransferEntropy(
                source,
                target,
                matrix,
                float(matrix.mean()),
                float(matrix.max()),
                float(matrix.sum()),
            )
        )
    return pairs


def te_information_plane(
    pairs: Sequence[LayerPairTransferEntropy], *, statistic: Statistic = "mean"
) -> dict[str, tuple[float, float]]:
    """TE-plane coordinates of each hidden layer: name → (TE(prev → layer), TE(layer → next)).

    ``pairs`` are consecutive adjacent pairs as returned by :func:`layer_transfer_entropy`.

    Example:
        >>> import torch
        >>> p = [LayerPairTransferEntropy("in", "h", torch.zeros(1, 1), 0.3, 0.3, 0.3),
        ...      LayerPairTransferEntropy("h", "out", torch.zeros(1, 1), 0.1, 0.1, 0.1)]
        >>> te_information_plane(p)
        {'h': (0.3, 0.1)}
    """
    for before, after in itertools.pairwise(pairs):
        if before.target != after.source:
            raise ValueError(
                f"pairs must be consecutive: {before.source}->{before.target} is followed by "
                f"{after.source}->{after.target}"
            )
    return {
        before.target: (before.statistic(statistic), after.statistic(statistic))
        for before, after in itertools.pairwise(pairs)
    }
