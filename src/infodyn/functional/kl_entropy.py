"""Kozachenko–Leonenko k-nearest-neighbour entropy, the estimator behind Sakamoto & Sato's MI.

Sakamoto & Sato ("Explaining Grokking and Information Bottleneck through Neural Collapse
Emergence", Fig. 4) estimate I(Z;X) and I(Z;Y) with the recipe of Butakov et al. (ICLR 2024,
"Information Bottleneck Analysis of Deep Neural Networks via Lossy Compression"): compress each
variable to a few whitened dimensions, estimate differential entropies by the weighted
Kozachenko–Leonenko estimator of Berrett, Samworth & Yuan (2019, Ann. Statist. 47(1)), and
combine them,

    I(Z; X) = H(Z) + H(X) − H(Z, X),      I(Z; Y) = H(Z) − Σ_y p_y H(Z | Y = y).

The conventions below are those of the authors' public code (``compression/kl_estimator.py``
and ``mi_estimation_compression.py`` of ``keitaroskmt/collapse-dynamics``), re-derived from
Berrett et al. and implemented here independently: Euclidean distances, natural logarithms
(nats), the normalisation n − 1 of a leave-one-out density, ρ^d floored at 1e-12, k = 5, and
the weight vector w described in :func:`kl_weights` — which, for d ≤ 4, puts all weight on
the *nearest* neighbour.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from infodyn._validation import check_choice, check_int, check_matrix
from infodyn.functional._chunking import check_chunk_size, row_slices

__all__ = ["KLWeighting", "kl_entropy", "kl_weights"]

KLWeighting = Literal["berrett", "kth"]
_WEIGHTINGS: tuple[KLWeighting, ...] = ("berrett", "kth")
# ρ^d is floored here before its log (Butakov et al.'s code): duplicate samples give a finite
# entropy instead of −inf.
_MIN_VOLUME = 1e-12
# Singular values below this fraction of the largest are dropped when solving for the weights
# (the least-squares cut-off of the authors' code).
_WEIGHTS_RCOND = 1e-6
# chunk_size=None: rows per block so that one n-column distance block has ~2²² entries.
_AUTO_CHUNK_ENTRIES = 1 << 22


def kl_weights(k: int, dim: int, weighting: KLWeighting = "berrett") -> Tensor:
    """The weights w_1 … w_k of the j-th-neighbour terms in :func:`kl_entropy`.

    ``"kth"``: w = e_k, the classic Kozachenko–Leonenko estimator with the k-th neighbour.

    ``"berrett"``: Berrett, Samworth & Yuan's (2019) debiasing weights, posed as in the
    authors' code. For dim ≤ 4, w = e_1 (the nearest neighbour only, whatever k). For dim > 4,
    the minimum-norm least-squares solution of

        Σ_j w_j = 1,
        Σ_j w_j Γ(j + 2l/d)/Γ(j) = 0          for l = 1 … ⌊d/4⌋  (each row scaled to norm 1),
        w_j = 0                               for j ∉ {⌊ik/d⌋ : i = 1 … d},

    with singular values below 1e-6 of the largest cut. The constraints cancel the leading
    bias terms of order (k/n)^{2l/d}; when k is too small to satisfy them all (roughly
    ⌊d/4⌋ + 1 > the allowed support), the least-squares compromise is returned.

    Args:
        k: number of neighbours, ≥ 1.
        dim: dimension d of the samples, ≥ 1.
        weighting: ``"berrett"`` (default) or ``"kth"``.

    Returns:
        (k,) float64 weights.

    Example:
        >>> kl_weights(5, 2).tolist()
        [1.0, 0.0, 0.0, 0.0, 0.0]
        >>> w = kl_weights(5, 8)
        >>> round(float(w.sum()), 12)
        1.0
    """
    k = check_int("k", k, minimum=1)
    dim = check_int("dim", dim, minimum=1)
    check_choice("weighting", weighting, _WEIGHTINGS)
    w = np.zeros(k)
    if weighting == "kth":
        w[-1] = 1.0
    elif dim <= 4:
        w[0] = 1.0
    else:
        j = np.arange(1, k + 1, dtype=np.float64)
        rows = [np.full(k, 1.0 / k)]
        rhs = [1.0 / k]
        for lag in range(1, dim // 4 + 1):
            # Γ(j + 2l/d)/Γ(j) by log-gamma: no overflow for large j.
            row = np.exp([math.lgamma(v + 2 * lag / dim) - math.lgamma(v) for v in j])
            rows.append(row / np.linalg.norm(row))
            rhs.append(0.0)
        support = {i * k // dim for i in range(1, dim + 1)}  # 1-based j; 0 is not an index
        for index in range(1, k + 1):
            if index not in support:
                rows.append(np.eye(k)[index - 1])
                rhs.append(0.0)
        w = np.linalg.lstsq(np.vstack(rows), np.array(rhs), rcond=_WEIGHTS_RCOND)[0]
    return torch.from_numpy(w)


def _neighbour_log_distances(v: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """(n, k) log of the Euclidean distances to the 1st … k-th nearest *other* sample."""
    n = v.shape[0]
    rows = max(1, _AUTO_CHUNK_ENTRIES // max(n, 1)) if chunk_size is None else chunk_size
    out = []
    for block in row_slices(n, rows):
        # Exact differences, not ‖a‖² + ‖b‖² − 2ab: the log of a small distance would
        # inherit that form's cancellation error.
        d = torch.cdist(v[block], v, compute_mode="donot_use_mm_for_euclid_dist")
        d[torch.arange(d.shape[0]), torch.arange(block.start, block.stop)] = torch.inf
        out.append(d.topk(k, dim=1, largest=False).values)
    return torch.cat(out).log()


def kl_entropy(
    samples: Tensor,
    *,
    k: int = 5,
    weighting: KLWeighting = "berrett",
    chunk_size: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Differential entropy H(V) in **nats** by the (weighted) Kozachenko–Leonenko estimator.

    With ρ_(j),i the Euclidean distance from sample i to its j-th nearest other sample, n
    samples in d dimensions, V_d = π^{d/2}/Γ(d/2 + 1) the volume of the unit ball and w from
    :func:`kl_weights` (Berrett, Samworth & Yuan 2019, eq. 2 and §3):

        ξ_(j),i = e^{−ψ(j)} · V_d · (n − 1) · max(ρ_(j),i^d, 1e-12)
        H(V) = (1/n) Σ_i Σ_j w_j log ξ_(j),i

    For w = e_k this is the classic estimator, log(n − 1) − ψ(k) + log V_d + (d/n) Σ_i log ρ_(k),i
    (Kozachenko & Leonenko 1987), consistent for any fixed k. The n − 1, rather than ψ(n) as
    in Kraskov et al., and the floor on ρ^d follow Berrett et al. and the authors' code; the
    two normalisations differ by O(1/n). Range (−∞, ∞): a differential entropy; it changes by
    log|det A| under v ↦ Av, so compare estimates of the same scaling.

    Args:
        samples: (n, d) floating matrix, rows are samples.
        k: neighbours, ≥ 1 (default 5, as the authors). The samples must outnumber the
            neighbours the weights use (for ``"berrett"`` with d ≤ 4 only the nearest one).
        weighting: ``"berrett"`` (default, the authors' estimator) or ``"kth"``.
        chunk_size: memory knob: rows of the distance matrix built at a time; None picks
            ~2²²/n rows. Does not change the value.
        dtype: working precision (default float64).

    Returns:
        0-d tensor in nats. Not differentiable.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> v = torch.randn(4000, 1, generator=g, dtype=torch.float64)
        >>> truth = 0.5 * math.log(2 * math.pi * math.e)  # a standard normal: 1.4189 nats
        >>> abs(float(kl_entropy(v)) - truth) < 0.05
        True
    """
    v = check_matrix("samples", samples).detach().to(dtype)
    check_int("k", k, minimum=1)
    check_choice("weighting", weighting, _WEIGHTINGS)
    check_chunk_size(chunk_size)
    n, d = v.shape
    w = kl_weights(k, d, weighting).to(dtype=dtype, device=v.device)
    used = int(torch.nonzero(w).max()) + 1  # neighbours with non-zero weight
    if n <= used:
        raise ValueError(
            f"samples has {n} rows but the Kozachenko–Leonenko estimator uses the {used} "
            f"nearest other samples of each; pass at least {used + 1} samples or a smaller k"
        )
    with torch.no_grad():
        log_rho = _neighbour_log_distances(v, used, chunk_size)
        log_volume = (d * log_rho).clamp_min(math.log(_MIN_VOLUME))
        j = torch.arange(1, used + 1, dtype=dtype, device=v.device)
        log_unit_ball = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
        log_xi = -torch.special.digamma(j) + log_unit_ball + math.log(n - 1) + log_volume
        return (log_xi @ w[:used]).mean()
