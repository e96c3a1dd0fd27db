"""XᵀX from the upper triangle only: the one symmetric product behind every d×d second moment.

A GEMM computes all d² entries of XᵀX although d(d+1)/2 determine it. For d ≥ 256 the product
is split into ``blocks`` column blocks; block row i is X[:, i]ᵀ X[:, i:] (the diagonal block
and everything to its right), mirrored into the lower triangle — 10 of 16 blocks' work at
``blocks=4``, and an exactly symmetric result. Each entry is the same dot product as in one
GEMM, so the values agree with ``x.mT @ x`` to round-off (bit-equal on the CPU builds tested).
Gradients flow through the slice assignments like through any product.
"""

from __future__ import annotations

import itertools

from torch import Tensor

__all__ = ["upper_gram"]

#: below this many columns one GEMM is as fast (the blocks' overhead eats the saving).
_MIN_BLOCKED = 256


def upper_gram(x: Tensor, blocks: int = 4) -> Tensor:
    """XᵀX (d×d) for ``x`` (n, d), computed from its upper-triangle block rows when d ≥ 256.

    Example:
        >>> import torch
        >>> x = torch.randn(50, 300, dtype=torch.float64)
        >>> g = upper_gram(x)
        >>> bool(torch.allclose(g, x.mT @ x)), bool(torch.equal(g, g.mT))
        (True, True)
    """
    d = x.shape[1]
    if d < _MIN_BLOCKED or blocks < 2:
        return x.mT @ x
    out = x.new_empty(d, d)
    edges = [d * i // blocks for i in range(blocks + 1)]
    for lo, hi in itertools.pairwise(edges):
        block = x[:, lo:hi].mT @ x[:, lo:]
        out[lo:hi, lo:] = block
        out[lo:, lo:hi] = block.mT
    return out
