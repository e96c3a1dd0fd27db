"""MIR/HDR of a batch whose head rows are class vectors, W_y: the head's spectrum from C×C.

:class:`~infodyn.metrics.MatrixInformation` pairs every sample with the head vector of its
label. The head Gram is then K_W = P Ĝ Pᵀ, with P the (n, C) one-hot matrix of the labels and
Ĝ = ŴŴᵀ the Gram of the C unit class vectors. The non-zero eigenvalues of PĜPᵀ are those of
ĜPᵀP (AB and BA share them), so those of K_W/n are the eigenvalues of the C×C matrix

    D^{1/2} Ĝ D^{1/2} / n,     D = PᵀP = diag(class counts),

one small eigenvalue problem instead of an n×n one; K_W itself is Ĝ indexed by the labels, no
product over the features. The features' Gram and the Hadamard product K_Z ∘ K_W stay n×n, as
in :func:`~infodyn.functional.matrix_information` when the features are at least as wide as
the batch, and are solved in one batched call; the spectral entropies of the few hundred
eigenvalues are summed as Python floats. The values are those of
``matrix_information(features, head_rows(weight, labels))`` up to round-off (the eigenvalues
come from other, equivalent matrices; tested to 1e-12 relative).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infodyn.functional.matrix_info import (
    _matrix_information,
    _raise_if_rank_one_values,
)

__all__ = ["class_head_information"]

# (MIR, HDR, H_Z, H_W, MI), the order of MatrixInformationResult.
_Values = tuple[float, float, float, float, float]


def _spectral_entropy(eigenvalues: list[float], size: int, eps: float) -> float:
    """−Σ λ log λ over the eigenvalues of a trace-one PSD matrix, in Python floats.

    The rule of ``matrix_info._spectral_entropy``: negative round-off clamped to 0,
    eigenvalues at or below ``size · eps · λ_max`` dropped, the result clamped at 0. A few
    hundred numbers: cheaper as floats than as a dozen small tensor operations, and equal to
    round-off (another summation order, a libm log).
    """
    lam = [max(value, 0.0) for value in eigenvalues]
    tol = size * eps * max(lam)
    return max(0.0 - sum(value * math.log(value) for value in lam if value > tol), 0.0)


def class_head_information(
    features: Tensor, weight: Tensor, labels: Tensor, *, dtype: torch.dtype
) -> _Values:
    """``matrix_information(features, head_rows(weight, labels))`` for checked inputs.

    Args:
        features: (n, d) finite features, rows are samples.
        weight: (C, d_h) finite classifier-head weight.
        labels: (n,) integer labels in [0, C).
        dtype: working precision of the eigenvalue problems; the entropies are then combined
            in float64 (Python floats).

    Returns:
        (MIR, HDR, H_Z, H_W, MI) as floats, in the order of ``MatrixInformationResult``. With
        features or head narrower than the batch (d < n or d_h < n) the general algebra of
        ``matrix_information`` is cheaper and is used.

    Raises:
        ValueError: as ``matrix_information`` (a rank-one Gram, an all-zero row).

    Example:
        >>> etf = torch.eye(4) - 0.25  # a simplex-ETF head, C = 4
        >>> labels = torch.arange(8) % 4
        >>> mir, hdr, *_ = class_head_information(3.0 * etf[labels], etf, labels,
        ...                                       dtype=torch.float64)
        >>> round(mir, 4), round(hdr, 4)
        (0.754, 0.0)
    """
    y = labels.to(device=weight.device, dtype=torch.long)
    (n, d), (classes, d_head) = features.shape, weight.shape
    with torch.no_grad():
        if d != d_head or d < n or classes > n:
            return _general(features, weight.index_select(0, y), dtype)
        counts = torch.bincount(y, minlength=classes)
        # Features and class vectors are normalised together and share one Gram; an absent
        # class gets a harmless row (only present classes enter K_W, as in head_rows).
        rows = torch.cat([features, torch.where(counts[:, None] > 0, weight, 1.0)]).to(dtype)
        norms = torch.linalg.vector_norm(rows, dim=1, keepdim=True)
        low, high = torch.aminmax(norms)
        if not (float(low) > _smallest_norm(dtype) and math.isfinite(float(high))):
            # An all-zero row, or norms at the edge of the range: _unit_rows' careful path
            # and its error messages (which name the sample).
            return _general(features, weight.index_select(0, y), dtype)
        unit = rows / norms
        gram = unit @ unit.mT
        kz, g = gram[:n, :n], gram[n:, n:]
        pair = torch.linalg.eigvalsh(torch.stack([kz, kz * g[y[:, None], y]]) / n).tolist()
        root = counts.to(dtype).sqrt()
        head = torch.linalg.eigvalsh(root[:, None] * g * root / n).tolist()
    # Tolerance sizes as matrix_information's n×n path: max(n, d), and max(n, d²).
    eps = torch.finfo(dtype).eps
    hz = _spectral_entropy(pair[0], max(n, d), eps)
    hj = _spectral_entropy(pair[1], max(n, d * d), eps)
    hw = _spectral_entropy(head, max(n, d), eps)
    try:
        _raise_if_rank_one_values(hz, hw, dtype, both=False)
    except ValueError:  # the general path raises it, with its entropies in the message
        return _general(features, weight.index_select(0, y), dtype)
    # Python floats are IEEE doubles: the arithmetic of 0-d float64 tensors, without the
    # dispatch of ten small tensor operations.
    mi = hz + hw - hj
    return mi / min(hz, hw), abs(hz - hw) / max(hz, hw), hz, hw, mi


def _smallest_norm(dtype: torch.dtype) -> float:
    """The norm below which _unit_rows takes its careful path."""
    finfo = torch.finfo(dtype)
    return math.sqrt(finfo.tiny) / finfo.eps


def _general(features: Tensor, head: Tensor, dtype: torch.dtype) -> _Values:
    result = _matrix_information(features, head, dtype=dtype, chunk_size=None, path="auto")
    mir, hdr, hz, hw, mi = torch.stack(list(result)).tolist()
    return mir, hdr, hz, hw, mi
