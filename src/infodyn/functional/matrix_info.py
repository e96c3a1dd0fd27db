"""Matrix entropy, matrix mutual information, MIR and HDR (Song et al. 2024, arXiv 2406.03999).

Rows of every matrix are samples. Each row is scaled to unit L2 norm, so the Gram matrix
K = ẐẐᵀ has a unit diagonal and K/n has trace one; its von Neumann entropy is in **nats**
(natural log: infodyn's choice for every entropy but transfer entropy's bits, because MIR and
HDR are ratios of entropies and do not depend on the base).

Cost. Only eigenvalues are needed, and the non-zero eigenvalues of ẐẐᵀ/n (n×n) equal those of
the dual ẐᵀẐ/n (d×d), so with d < n an entropy costs one d×d symmetric eigenvalue problem plus
an n·d² product. The Hadamard product K1∘K2 is the Gram of the face-splitting rows
f_i = â_i ⊗ b̂_i; its dual has size r1·r2, where r_k is the rank of side k (the head rows of a
C-class head have rank ≤ C). The dual is used only when r1·r2 < n, else the n×n product.

Gradients. The entropy is a spectral function, differentiated through ``torch.linalg.eigh``'s
backward. Its gradient needs eigenvectors but not eigenvalue gaps, so repeated eigenvalues are
harmless — except for a cluster straddling the zero tolerance below, where the derivative is
not defined. The derivative of −λ log λ is −(log λ + 1), infinite at λ = 0: eigenvalues at or
below ``max(n, d) · eps · λ_max`` are treated as exact zeros, contributing 0 and no gradient.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from infodyn._validation import check_labels, check_matrix, check_same_rows, check_tensor
from infodyn.functional._chunking import check_chunk_size, row_slices
from infodyn.functional._gram import upper_gram

__all__ = [
    "MatrixInformationResult",
    "hdr",
    "head_rows",
    "matrix_entropy",
    "matrix_information",
    "matrix_mutual_information",
    "mir",
]

# Which algebra to use: "auto" picks the cheaper exact one; tests force the other two.
_Path = Literal["auto", "dual", "primal"]


class MatrixInformationResult(NamedTuple):
    """The five matrix-information values of one batch, all 0-d tensors (entropies in nats)."""

    mir: Tensor
    hdr: Tensor
    entropy_features: Tensor
    entropy_head: Tensor
    mutual_information: Tensor


class _Side(NamedTuple):
    """Entropy of one Gram matrix and, when the d×d dual was used, a basis of its row space."""

    entropy: Tensor
    basis: Tensor | None  # (d, r), orthonormal columns, detached


def _check_options(dtype: object, chunk_size: object) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point or dtype.is_complex:
        raise TypeError(
            f"dtype must be a real floating torch.dtype, got {dtype!r}; use torch.float64"
        )
    check_chunk_size(chunk_size)


def _unit_rows(name: str, x: Tensor, dtype: torch.dtype) -> Tensor:
    """Cast to ``dtype`` and scale every row to unit L2 norm; a zero row is an error."""
    x = x.to(dtype)
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    # Below this norm the squares of entries that matter may have underflowed; a non-finite
    # norm means they overflowed. Both are rare, and go the careful way below.
    finfo = torch.finfo(dtype)
    smallest = math.sqrt(finfo.tiny) / finfo.eps
    if bool(((norms > smallest) & torch.isfinite(norms)).all()):
        return x / norms
    # Dividing by the row's largest |entry| first keeps the squared norm in range. The
    # normalised row does not depend on that scale, so it can be detached.
    scale = x.detach().abs().amax(dim=1, keepdim=True)
    zero_rows = (scale[:, 0] == 0).nonzero().flatten()
    if zero_rows.numel():
        raise ValueError(
            f"{name} row {int(zero_rows[0])} is all zeros ({zero_rows.numel()} zero row(s) in "
            f"{tuple(x.shape)}); every row is scaled to unit length, so drop all-zero samples "
            f"(e.g. dead-ReLU features) before measuring"
        )
    x = x / scale
    return x / torch.linalg.vector_norm(x, dim=1, keepdim=True)


def _dual(u: Tensor, chunk_size: int | None) -> Tensor:
    """ÛᵀÛ (d×d), accumulated ``chunk_size`` rows at a time (upper triangle, mirrored)."""
    slices = row_slices(u.shape[0], chunk_size)
    total = upper_gram(u[slices[0]])
    for rows in slices[1:]:
        total = total + upper_gram(u[rows])
    return total


def _gram(u: Tensor, chunk_size: int | None) -> Tensor:
    """ÛÛᵀ (n×n), built ``chunk_size`` rows at a time."""
    return torch.cat([u[rows] @ u.mT for rows in row_slices(u.shape[0], chunk_size)])


def _spectral_entropy(eigenvalues: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """−Σ λ log λ over the eigenvalues of a trace-one PSD matrix, and the mask of those kept.

    ``size`` is max(n, d): round-off in a Gram and its eigenvalues grows with it.
    """
    lam = eigenvalues.clamp_min(0)  # tiny negative values are round-off of true zeros
    tol = size * torch.finfo(lam.dtype).eps * lam.detach().max()
    keep = lam > tol
    # log is taken of 1 where an eigenvalue is dropped, so no inf/NaN reaches the backward pass.
    safe = torch.where(keep, lam, torch.ones_like(lam))
    terms = torch.where(keep, safe * torch.log(safe), torch.zeros_like(lam))
    # Round-off can push a rank-one entropy a hair below 0; the true value is >= 0. Writing
    # 0 − Σ instead of −Σ keeps an exact zero positive (−0.0 would print as "-0.0").
    return (0.0 - terms.sum()).clamp_min(0.0), keep


def _side(u: Tensor, *, path: _Path, chunk_size: int | None, want_basis: bool) -> _Side:
    """Entropy of K/n for unit rows ``u`` (n, d); a row-space basis if ``want_basis``."""
    n, d = u.shape
    size = max(n, d)
    if not _uses_dual(u, path):
        lam = torch.linalg.eigvalsh(_gram(u, chunk_size) / n)
        return _Side(_spectral_entropy(lam, size)[0], None)
    second_moment = _dual(u, chunk_size) / n
    if not want_basis:
        return _Side(_spectral_entropy(torch.linalg.eigvalsh(second_moment), size)[0], None)
    lam, vectors = torch.linalg.eigh(second_moment)
    entropy, keep = _spectral_entropy(lam, size)
    return _Side(entropy, vectors.detach()[:, keep])


def _joint_entropy(
    u1: Tensor, side1: _Side, u2: Tensor, side2: _Side, *, path: _Path, chunk_size: int | None
) -> Tensor:
    """H(K1 ∘ K2) for unit rows ``u1`` (n, d1) and ``u2`` (n, d2)."""
    n = u1.shape[0]
    # Rank reduction: with Q a basis of Û's row space, ÛQ (n, r) has the same Gram as Û. Q is
    # detached, which keeps the gradient exact: ÛQQᵀ = Û, so d(ÛQQᵀÛᵀ) = d(ÛÛᵀ) to first order.
    a1 = u1 if side1.basis is None else u1 @ side1.basis
    a2 = u2 if side2.basis is None else u2 @ side2.basis
    r1, r2 = a1.shape[1], a2.shape[1]
    if (r1 * r2 < n) if path == "auto" else (path == "dual"):
        total = torch.zeros(r1 * r2, r1 * r2, dtype=u1.dtype, device=u1.device)
        for rows in row_slices(n, chunk_size):
            face = (a1[rows, :, None] * a2[rows, None, :]).reshape(-1, r1 * r2)
            total = total + face.mT @ face
        lam = torch.linalg.eigvalsh(total / n)
    else:
        slices = row_slices(n, chunk_size)
        hadamard = torch.cat([(u1[rows] @ u1.mT) * (u2[rows] @ u2.mT) for rows in slices])
        lam = torch.linalg.eigvalsh(hadamard / n)
    return _spectral_entropy(lam, max(n, r1 * r2))[0]


def _rank_one_threshold(dtype: torch.dtype) -> float:
    # A rank-one Gram has entropy 0 up to round-off of order eps; sqrt(eps) separates the two.
    return math.sqrt(torch.finfo(dtype).eps)


def _pair(
    features: object, head: object, dtype: object, chunk_size: object
) -> tuple[Tensor, Tensor]:
    _check_options(dtype, chunk_size)
    z = check_matrix("features", features)
    w = check_matrix("head", head)
    check_same_rows("features", z, "head", w)
    return z, w


def matrix_entropy(
    z: Tensor, *, dtype: torch.dtype = torch.float64, chunk_size: int | None = None
) -> Tensor:
    """Von Neumann entropy of the normalised Gram matrix of ``z``, in nats.

    With ẑ_i = z_i/‖z_i‖₂ and K = ẐẐᵀ (unit diagonal),

        H(K) = −tr((K/n) log(K/n)) = −Σ_k λ_k log λ_k,   λ_k the eigenvalues of K/n.

    Range [0, log n]: 0 when all rows are parallel, log n when they are orthogonal. Computed on
    the d×d dual ẐᵀẐ/n when d < n (same non-zero eigenvalues), else on K/n.

    Args:
        z: (n, d) floating matrix, rows are samples, n ≥ 2, no all-zero row.
        dtype: working precision (default float64); the result has this dtype.
        chunk_size: rows processed at a time when accumulating the Gram or dual, to bound
            memory; None processes all rows at once. The value does not depend on it.

    Returns:
        0-d tensor, differentiable with respect to ``z`` (see the module notes on zero and
        repeated eigenvalues).

    Example:
        >>> round(float(matrix_entropy(torch.eye(4))), 4)  # orthonormal rows: log 4
        1.3863
        >>> round(float(matrix_entropy(torch.ones(5, 3))), 4)  # parallel rows
        0.0
    """
    _check_options(dtype, chunk_size)
    u = _unit_rows("z", check_matrix("z", z), dtype)
    return _side(u, path="auto", chunk_size=chunk_size, want_basis=False).entropy


def matrix_mutual_information(
    z1: Tensor, z2: Tensor, *, dtype: torch.dtype = torch.float64, chunk_size: int | None = None
) -> Tensor:
    """Matrix mutual information of the normalised Gram matrices of ``z1`` and ``z2``, in nats.

        MI(K1, K2) = H(K1) + H(K2) − H(K1 ∘ K2)      (∘ elementwise; see ``matrix_entropy``)

    K1 ∘ K2 is PSD with unit diagonal (Schur product theorem), so H is defined. It is the Gram
    of the rows ẑ1_i ⊗ ẑ2_i; their r1·r2-sized dual is used when smaller than n.

    Args:
        z1: (n, d1) floating matrix, rows are samples.
        z2: (n, d2) floating matrix with the same samples in the same order.
        dtype: working precision (default float64).
        chunk_size: rows processed at a time (memory knob); does not change the value.

    Returns:
        0-d tensor in [0, min(H(K1), H(K2))] up to round-off, differentiable in both inputs.

    Example:
        >>> z = torch.eye(4)
        >>> round(float(matrix_mutual_information(z, z)), 4)  # K ∘ K = K: MI = H(K) = log 4
        1.3863
    """
    _check_options(dtype, chunk_size)
    a = check_matrix("z1", z1)
    b = check_matrix("z2", z2)
    check_same_rows("z1", a, "z2", b)
    u1, u2 = _unit_rows("z1", a, dtype), _unit_rows("z2", b, dtype)
    side1 = _side(u1, path="auto", chunk_size=chunk_size, want_basis=True)
    side2 = _side(u2, path="auto", chunk_size=chunk_size, want_basis=True)
    joint = _joint_entropy(u1, side1, u2, side2, path="auto", chunk_size=chunk_size)
    return side1.entropy + side2.entropy - joint


def head_rows(weight: Tensor, labels: Tensor) -> Tensor:
    """The head vector of each sample's label: W_y = [w_{y_1}; …; w_{y_n}].

    Args:
        weight: (C, d) classifier-head weight, rows are class vectors (``nn.Linear.weight``).
        labels: (n,) integer labels (or pseudo-labels) in [0, C).

    Returns:
        (n, d) tensor, differentiable with respect to ``weight``.

    Example:
        >>> head_rows(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([1, 0, 1]))
        tensor([[0., 2.],
                [1., 0.],
                [0., 2.]])
    """
    w = check_matrix("weight", weight, min_rows=1)
    y = check_tensor("labels", labels)
    y = check_labels(
        "labels", y, n=y.shape[0] if y.ndim == 1 else y.numel(), num_classes=w.shape[0]
    )
    return w.index_select(0, y.to(device=w.device, dtype=torch.long))


def _raise_if_rank_one(entropy_features: Tensor, entropy_head: Tensor, *, both: bool) -> None:
    hz, hw = float(entropy_features.detach()), float(entropy_head.detach())
    _raise_if_rank_one_values(hz, hw, entropy_features.dtype, both=both)


def _raise_if_rank_one_values(hz: float, hw: float, dtype: torch.dtype, *, both: bool) -> None:
    """:func:`_raise_if_rank_one` for entropies already read as Python floats."""
    threshold = _rank_one_threshold(dtype)
    flat = [name for name, h in (("features", hz), ("head", hw)) if h <= threshold]
    if len(flat) == 2 or (flat and not both):
        what = "MIR and HDR are" if len(flat) == 2 else "MIR is"
        raise ValueError(
            f"{what} undefined for this batch: the Gram of {' and '.join(flat)} is rank-one "
            f"(entropy {hz:.3g} nats for features, {hw:.3g} for head), i.e. all its rows are "
            f"parallel, and MI/min(H) is 0/0. This happens when every sample has the same "
            f"label (identical head rows) or the features collapsed to one direction; measure "
            f"on a batch with at least 2 classes"
        )


def matrix_information(
    features: Tensor,
    head: Tensor,
    *,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
) -> MatrixInformationResult:
    """MIR, HDR and the entropies behind them for features and their per-sample head rows.

    With H_Z = H(K_Z), H_W = H(K_W) (``matrix_entropy``) and MI = MI(K_Z, K_W),

        MIR = MI / min(H_Z, H_W)                 ∈ [0, 1]
        HDR = |H_Z − H_W| / max(H_Z, H_W)        ∈ [0, 1]

    Each eigenvalue problem is solved once. At neural collapse (features aligned with a simplex
    ETF head, C balanced classes) H_Z = H_W = log(C − 1), HDR = 0 and MIR = 0.9523508 for C = 10.

    Args:
        features: (n, d) features, rows are samples.
        head: (n, d_h) head matrix of the batch, row i the head vector of sample i's label
            (``head_rows(weight, labels)``).
        dtype: working precision (default float64).
        chunk_size: rows processed at a time (memory knob); does not change the values.

    Returns:
        ``MatrixInformationResult(mir, hdr, entropy_features, entropy_head,
        mutual_information)``, 0-d tensors, entropies in nats, differentiable.

    Raises:
        ValueError: if either Gram is rank-one (all its rows parallel, e.g. a batch with a single
            label), where MIR is 0/0.

    Example:
        >>> etf = torch.eye(4) - 0.25  # simplex ETF of C = 4 classes
        >>> labels = torch.arange(8) % 4
        >>> w_y = head_rows(etf, labels)
        >>> result = matrix_information(3.0 * w_y, w_y)  # features collapsed onto the head
        >>> round(float(result.mir), 4), round(float(result.hdr), 4)
        (0.754, 0.0)
    """
    z, w = _pair(features, head, dtype, chunk_size)
    return _matrix_information(z, w, dtype=dtype, chunk_size=chunk_size, path="auto")


def _uses_dual(u: Tensor, path: _Path) -> bool:
    """Whether :func:`_side` takes the d×d dual of ``u`` (n, d) rather than the n×n Gram."""
    n, d = u.shape
    return (d < n) if path == "auto" else (path == "dual")


def _primal_entropies(
    u: Tensor, v: Tensor, chunk_size: int | None
) -> tuple[Tensor, Tensor, Tensor]:
    """H(K_Z), H(K_W) and H(K_Z ∘ K_W) from n×n matrices, when all three are n×n.

    The Grams are built once (the joint Hadamard product reuses them) and the three
    eigenvalue problems are solved in one batched call. Each value is bit-identical to the
    separate :func:`_side` / :func:`_joint_entropy` computation: the same products, and a
    batched ``eigvalsh`` solves each matrix as a single call does.
    """
    n, d1, d2 = u.shape[0], u.shape[1], v.shape[1]
    kz, kw = _gram(u, chunk_size), _gram(v, chunk_size)
    lam = torch.linalg.eigvalsh(torch.stack([kz / n, kw / n, kz * kw / n]))
    sizes = (max(n, d1), max(n, d2), max(n, d1 * d2))
    hz, hw, joint = (_spectral_entropy(lam[i], size)[0] for i, size in enumerate(sizes))
    return hz, hw, joint


def _matrix_information(
    z: Tensor, w: Tensor, *, dtype: torch.dtype, chunk_size: int | None, path: _Path
) -> MatrixInformationResult:
    u, v = _unit_rows("features", z, dtype), _unit_rows("head", w, dtype)
    if not (_uses_dual(u, path) or _uses_dual(v, path)):
        # Both sides n×n, so no row-space basis and the joint is n×n too (r1·r2 = d1·d2 ≥ n).
        hz, hw, joint = _primal_entropies(u, v, chunk_size)
        _raise_if_rank_one(hz, hw, both=False)
        mi = hz + hw - joint
    else:
        side_z = _side(u, path=path, chunk_size=chunk_size, want_basis=True)
        side_w = _side(v, path=path, chunk_size=chunk_size, want_basis=True)
        hz, hw = side_z.entropy, side_w.entropy
        _raise_if_rank_one(hz, hw, both=False)
        mi = hz + hw - _joint_entropy(u, side_z, v, side_w, path=path, chunk_size=chunk_size)
    return MatrixInformationResult(
        mir=mi / torch.minimum(hz, hw),
        hdr=(hz - hw).abs() / torch.maximum(hz, hw),
        entropy_features=hz,
        entropy_head=hw,
        mutual_information=mi,
    )


def mir(
    features: Tensor,
    head: Tensor,
    *,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
) -> Tensor:
    """Matrix mutual-information ratio MI(K_Z, K_W) / min(H(K_Z), H(K_W)) ∈ [0, 1].

    Same arguments and errors as ``matrix_information``, of which it returns ``.mir``.

    Example:
        >>> w_y = head_rows(torch.eye(4) - 0.25, torch.arange(8) % 4)
        >>> round(float(mir(w_y, w_y)), 4)
        0.754
    """
    return matrix_information(features, head, dtype=dtype, chunk_size=chunk_size).mir


def hdr(
    features: Tensor,
    head: Tensor,
    *,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
) -> Tensor:
    """Matrix entropy difference ratio |H(K_Z) − H(K_W)| / max(H(K_Z), H(K_W)) ∈ [0, 1].

    Same arguments as ``matrix_information``. Only the two entropies are computed (no joint
    eigenvalue problem), so HDR is also defined when one Gram is rank-one (it is then 1); it
    raises ``ValueError`` only when both are.

    Example:
        >>> features = torch.eye(4)  # entropy log 4
        >>> head = head_rows(torch.eye(2), torch.tensor([0, 0, 1, 1]))  # entropy log 2
        >>> round(float(hdr(features, head)), 4)  # (log 4 − log 2) / log 4
        0.5
    """
    z, w = _pair(features, head, dtype, chunk_size)
    u, v = _unit_rows("features", z, dtype), _unit_rows("head", w, dtype)
    hz = _side(u, path="auto", chunk_size=chunk_size, want_basis=False).entropy
    hw = _side(v, path="auto", chunk_size=chunk_size, want_basis=False).entropy
    _raise_if_rank_one(hz, hw, both=True)
    return (hz - hw).abs() / torch.maximum(hz, hw)
