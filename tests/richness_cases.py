"""Seeded feature/output constructions shared by the dynamical-richness tests.

The collapsed constructions are the ones behind the D_LR test values (Nam et al. 2024,
arXiv 2410.04264, their Proposition 1: collapse onto a simplex ETF is the richest case):
n = 2,000, p = 200, C = 10, a random normal head W and bias b, outputs F = ΦWᵀ + b.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

F64 = torch.float64


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_head(g: torch.Generator, p: int, c: int) -> tuple[Tensor, Tensor]:
    """W (c, p) and b (c,), standard normal."""
    return torch.randn(c, p, generator=g, dtype=F64), torch.randn(c, generator=g, dtype=F64)


def anisotropic(seed: int, n: int = 240, p: int = 30, c: int = 5) -> tuple[Tensor, Tensor, Tensor]:
    """Features with decaying scales and an offset, logits of a random head with bias, labels."""
    g = generator(seed)
    phi = torch.randn(n, p, generator=g, dtype=F64) * torch.linspace(3.0, 0.1, p, dtype=F64)
    phi = phi + torch.randn(p, generator=g, dtype=F64)
    w, b = random_head(g, p, c)
    labels = torch.randint(0, c, (n,), generator=g)
    return phi, phi @ w.T + b, labels


def collapsed(
    seed: int,
    *,
    labels: Tensor,
    means: str = "etf",
    noise: float = 0.0,
    n: int = 2000,
    p: int = 200,
    c: int = 10,
) -> tuple[Tensor, Tensor]:
    """Class means 5·(I − 11ᵀ/C) in a random C-dim subspace (or standard normal in all p
    dimensions, ``means="random"``) plus a common offset and isotropic noise of std ``noise``;
    outputs of a random head with bias."""
    g = generator(seed)
    w, b = random_head(g, p, c)
    basis, _ = torch.linalg.qr(torch.randn(p, c, generator=g, dtype=F64))
    offset = torch.randn(p, generator=g, dtype=F64)
    if means == "etf":
        centres = 5.0 * (torch.eye(c, dtype=F64) - 1.0 / c) @ basis.T
    else:
        centres = torch.randn(c, p, generator=g, dtype=F64)
    phi = centres[labels] + offset + noise * torch.randn(n, p, generator=g, dtype=F64)
    return phi, phi @ w.T + b


def class_logit_matrix(outputs: Tensor, labels: Tensor, c: int = 10) -> Tensor:
    """M (c, c): the class means of the outputs, row a = mean of F over the samples of class a
    (for collapsed features F = Y·M + noise·Wᵀ: the head's class-logit matrix)."""
    y = torch.nn.functional.one_hot(labels, c).to(F64)
    return (y.T @ outputs.to(F64)) / y.sum(dim=0)[:, None]


def conditioned_outputs(
    features: Tensor, labels: Tensor, kappa: float, *, seed: int, top: float = 10.0, c: int = 10
) -> Tensor:
    """Outputs F = ΦWᵀ (no bias) of a head whose class-logit matrix M has condition number κ.

    M's singular values are spaced geometrically from ``top`` down to ``top/κ``, with random
    orthogonal singular vectors (``seed``); W's part in the span of the class means is solved
    from M, its part orthogonal to them is a fixed standard normal matrix (``seed``), so the
    features, and the head's reading of everything but the class means, stay the same as κ
    changes.
    """
    g = generator(seed)
    means = class_logit_matrix(features, labels, c)  # (c, p): class means of Φ (rank c)
    inverse = torch.linalg.pinv(means)  # (p, c)
    w = torch.randn(c, features.shape[1], generator=g, dtype=F64)
    w_perp = w - (w @ inverse) @ means  # W(I − P), P the projection onto the means' row space
    u, _ = torch.linalg.qr(torch.randn(c, c, generator=g, dtype=F64))
    v, _ = torch.linalg.qr(torch.randn(c, c, generator=g, dtype=F64))
    singular = top * torch.logspace(0, -math.log10(kappa), c, dtype=F64)
    m = u @ torch.diag(singular) @ v.T
    w_par = (inverse @ m).T  # means @ w_parᵀ = M
    return features @ (w_par + w_perp).T
