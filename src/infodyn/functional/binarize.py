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

__all__ = ["Scope", "binarize", "binarize_batches", "binarize_fixed"]

Scope = Literal["layer", "neuron"]
SCOPES: tuple[Scope, ...] = ("layer", "neuron")


def _quantile_along(x: Tensor, q: float, dim: int | None) -> Tensor:
    """Linear-interpolation quantile (numpy's default), from one ``topk``: no 16M-element limit.

    With position (size − 1)·q = lo + frac, the quantile is v_lo + frac·(v_lo+1 − v_lo), where
    v_i is the (i+1)-th smallest value. Both order statistics come from a single ``topk`` of
    the shorter tail — the size − lo largest values for q ≥ ½, else the lo + 2 smallest —
    which is several times cheaper than a full ``torch.quantile`` sort or two ``kthvalue``
    calls, and gives the same values (an order statistic does not depend on how it is found).
    """
    flat = x.reshape(-1) if dim is None else x
    axis = 0 if dim is None else dim
    size = flat.shape[axis]
    position = (size - 1) * q
    lo = math.floor(position)
    hi = min(lo + 1, size - 1)
    if size - lo <= hi + 1:  # the largest size − lo values, in descending order
        tail = flat.topk(size - lo, dim=axis).values
        below = tail.select(axis, size - lo - 1)
        above = tail.select(axis, size - hi - 1)
    else:  # the smallest hi + 1 values, in ascending order
        tail = flat.topk(hi + 1, dim=axis, largest=False).values
        below, above = tail.select(axis, lo), tail.select(axis, hi)
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
    dim = None if scope == "layer" else 0
    # One pass gives the floor of the tie guard and the finiteness check (NaN and ±Inf reach
    # the minimum or the maximum); check_finite then says where the bad value sits.
    floor, peak = torch.aminmax(values, dim=dim)
    threshold = _quantile_along(values, q, dim)
    if dim is None:  # one threshold: pick the rule here, one comparison instead of two
        # One device sync for all three numbers; float → Python float is exact, so the
        # comparison below is the tensor comparison.
        low, high, cut = torch.stack([floor, peak, threshold]).tolist()
        if not (math.isfinite(low) and math.isfinite(high)):
            check_finite("x", values)
        return (values > threshold if cut <= low else values >= threshold).to(torch.uint8)
    if not bool(torch.isfinite(floor).all() & torch.isfinite(peak).all()):
        check_finite("x", values)
    return _bits(values, threshold, floor)


def _bits(values: Tensor, threshold: Tensor, floor: Tensor) -> Tensor:
    """1 where ``values ≥ threshold``, or ``> threshold`` where the threshold is at or below
    the minimum (the tie guard: a threshold equal to the floor would otherwise mark every
    sample); ``threshold`` and ``floor`` broadcast against ``values``."""
    return torch.where(threshold <= floor, values > threshold, values >= threshold).to(torch.uint8)


def binarize_batches(x: Tensor, q: float = 0.95, *, scope: Scope = "layer") -> Tensor:
    """:func:`binarize` of every batch of a stack, in one pass: ``binarize(x[b], q, scope)``.

    Each batch keeps its own threshold(s) — the layer's q-th percentile over that batch, or
    each neuron's — and the tie guard, bit for bit as :func:`binarize` gives them (the same
    order statistics and interpolation, batched along the first dimension). For many small
    batches this is far cheaper than a call per batch.

    Args:
        x: (B, T, n) finite activations: B batches of T samples; not checked here.
        q: percentile in (0, 1).
        scope: ``"layer"`` or ``"neuron"``.

    Returns:
        (B, T, n) uint8 tensor of 0/1.

    Example:
        >>> x = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[5.0, 0.0], [0.0, 0.0]]])
        >>> bool((binarize_batches(x, 0.5) == torch.stack([binarize(b, 0.5) for b in x])).all())
        True
    """
    values = x if x.is_floating_point() else x.double()
    batches = values.shape[0]
    if scope == "layer":
        flat = values.reshape(batches, -1)
        floor, threshold = flat.amin(dim=1), _quantile_along(flat, q, 1)
        floor, threshold = floor[:, None, None], threshold[:, None, None]
    else:
        floor, threshold = values.amin(dim=1, keepdim=True), _quantile_along(values, q, 1)[:, None]
    return _bits(values, threshold, floor)


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
