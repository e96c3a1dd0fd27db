"""Binarising activations for transfer entropy (Moldovan, Caţaron & Andonie 2024).

Percentile thresholds — the paper (arXiv 2404.01364) binarises at a dynamic threshold,
typically the 95th percentile (from its summary; its body could not be checked); over which
values the percentile is taken, and the tie guard,
are infodyn's choices documented on :func:`binarize` — and the fixed thresholds of the
authors' code (:func:`binarize_fixed`).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from infodyn._validation import check_choice, check_finite, check_tensor

__all__ = ["Scope", "binarize", "binarize_fixed"]

Scope = Literal["layer", "neuron"]
SCOPES: tuple[Scope, ...] = ("layer", "neuron")


def _quantile_along(x: Tensor, q: float, dim: int | None) -> Tensor:
    """Linear-interpolation quantile (numpy's default) via ``kthvalue``: no 16M-element limit."""
    flat = x.reshape(-1) if dim is None else x
    axis = 0 if dim is None else dim
    size = flat.shape[axis]
    position = (size - 1) * q
    lo = math.floor(position)
    hi = min(lo + 1, size - 1)
    below = flat.kthvalue(lo + 1, dim=axis).values
    above = flat.kthvalue(hi + 1, dim=axis).values if hi != lo else below
    return below + (position - lo) * (above - below)


def binarize(x: Tensor, q: float = 0.95, *, scope: Scope = "layer") -> Tensor:
    """Binarize activations at their q-th percentile: 1 where ``x ≥ threshold``, else 0.

    ``scope="layer"`` takes one threshold over all values of ``x`` (applied to each training
    batch this is ``layer_batch``, infodyn's default, chosen because it is the smallest change
    to the authors' code, which thresholds each layer's batch at forward time; applied to a
    whole epoch, ``layer_epoch``); ``scope="neuron"`` takes one threshold per column
    (``neuron_epoch`` on an epoch). Tie guard (infodyn's choice): where the threshold equals
    the population minimum (e.g. more than a fraction q of ReLU outputs are exactly 0) the rule
    becomes ``x > threshold``, because otherwise every exact zero would map to 1. Percentiles
    use linear interpolation, as numpy and ``torch.quantile``.

    Args:
        x: (T, n) activations (conv maps reduced to channels beforehand), finite.
        q: percentile in (0, 1); 0.95 marks about 5 % of values as 1.
        scope: ``"layer"`` or ``"neuron"``.

    Returns:
        (T, n) uint8 tensor of 0/1.

    Example:
        >>> binarize(torch.tensor([[0.0, 0.0], [0.0, 3.0], [1.0, 0.0]]), q=0.5).tolist()
        [[0, 0], [0, 1], [1, 0]]
    """
    x = check_tensor("x", x)
    if x.ndim != 2:
        raise ValueError(
            f"x must be 2-D (time, neurons), got shape {tuple(x.shape)}; reduce conv maps to "
            f"channels (e.g. x.flatten(2).mean(-1)) or use x.reshape(-1, 1) for one neuron"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x is empty (shape {tuple(x.shape)})")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q}; 0.95 keeps the top 5 % as 1")
    check_choice("scope", scope, SCOPES)
    values = x if x.is_floating_point() else x.double()
    check_finite("x", values)
    dim = None if scope == "layer" else 0
    threshold = _quantile_along(values, q, dim)
    floor = values.min() if dim is None else values.min(dim=0).values
    tie = threshold <= floor
    return torch.where(tie, values > threshold, values >= threshold).to(torch.uint8)


def binarize_fixed(x: Tensor, threshold: float, *, absolute: bool = False) -> Tensor:
    """Binarize at a fixed threshold: 1 where ``x ≥ threshold`` (``|x| ≥`` with ``absolute``).

    Reproduces the authors' code (Moldovan, Caţaron & Andonie's CNN-TE, ``RunConfig.py``
    thresholds tr1 = 1.0 and tr2 = 0.9): logits with ``absolute=True, threshold=1.0``; softmax
    outputs with ``threshold=0.9``.

    Example:
        >>> binarize_fixed(torch.tensor([[-2.0, 0.5, 1.0]]), 1.0, absolute=True).tolist()
        [[1, 0, 1]]
    """
    x = check_tensor("x", x)
    if x.is_floating_point():
        check_finite("x", x)
    values = x.abs() if absolute else x
    return (values >= threshold).to(torch.uint8)
