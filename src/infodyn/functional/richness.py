"""Dynamical richness D_LR and its three-panel spectral view (Nam et al., arXiv 2410.04264).

Rows are samples. Φ (n, p) are the last-layer features (inputs of the final linear layer),
F (n, C) the network's outputs on the same samples (logits, bias included — not softmax).
⟨u|v⟩ is the mean over samples of u(x)·v(x). All algebra runs in float64.

**D_LR** (Nam et al. 2024: their Definition 1 of the minimum-projection operator, and
D_LR = 1 − CKA). The feature kernel is K = ΦΦᵀ; the minimum-projection operator
T_MP[u] = a1⟨1|u⟩1 + a2·P_Ĥ(u) projects onto the learned functions Ĥ = span{f̂_c}.
With centred kernel alignment CKA(K, L) = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F), H = I − 11ᵀ/n,

    D_LR = 1 − CKA(K, T_MP) ∈ [0, 1]        (0 richest, 1 laziest)

**infodyn's choice:** after centring, T_MP is taken to be the projection onto the *centred*
outputs, span{F_c} — i.e. Ĥ is read together with the constant function that T_MP's a1 term
adds — because centring removes the a1 term and this reading has the closed form below. The
paper's words, Ĥ = span{f̂_1 … f̂_C} alone, give H·P_Ĥ·H instead, which differs only when the
constant function is not in span{F}; near collapse the two then differ (this reading is
≥ 1 − √((C − 1)/C) once the within-class spread exceeds ~1e-6 of the scale, the literal one
tends to 0).

No n×n matrix is formed: with the thin SVD F_c = USVᵀ, r = #{s_i > 1e-6·s_1}, Q = U[:, :r],

    D_LR = 1 − ‖QᵀΦ_c‖_F² / (√r · ‖Φ_cᵀΦ_c‖_F)       (‖Φ_cΦ_cᵀ‖_F, the same number, if n < p)

Cost O(n·p·C + n·p·min(n, p)). The same value follows from the moments
[ΦᵀΦ, ΦᵀF, FᵀF, Σφ, Σf, n] alone (``_richness_from_moments``), because
‖QᵀΦ_c‖² = ‖S_r⁻¹ V_rᵀ F_cᵀΦ_c‖² with F_cᵀF_c = V S² Vᵀ — which lets a streaming metric keep
p×p sums instead of samples.

**The three curves** (the paper's Eq. 5; the normalisations below are unconfirmed — the
paper's body could not be checked — and are infodyn's reading of its panels). The
*uncentred* second moment G = ΦᵀΦ/n = V diag(ρ) Vᵀ, ρ_1 ≥ ρ_2 ≥ …, gives Nyström
eigenfunctions e_k(x_i) = Φ(x_i)·v_k/√ρ_k, orthonormal under ⟨·|·⟩. Then

    Π̂(k) = Σ_{j≤k} Σ_c ⟨e_j|f̂_c⟩² / Σ_c ⟨f̂_c|f̂_c⟩      cumulative utilisation
    Π*(k) = the same with the targets f*_c (one-hot labels)  cumulative quality
    ρ_k/ρ_1                                                  relative feature norm

Modes with ρ_k ≤ max(n, p)·eps·ρ_1 are null: their ρ_k is reported as 0 and they contribute 0
(exact for Φv = 0; dead ReLU units give such modes). The curves
always have p entries (or ``k``); with n < p at most n modes are non-null, and the paper asks
for n > p (use n ≥ 2p) so that the eigenfunctions are well estimated.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from infodyn._validation import (
    check_int,
    check_labels,
    check_matrix,
    check_same_rows,
    check_tensor,
)
from infodyn.functional._chunking import check_chunk_size, row_slices

__all__ = [
    "RichnessResult",
    "d_lr",
    "richness",
]

#: Singular values of F_c below this fraction of the largest count as zero: infodyn's choice,
#: because float64 round-off of a rank-deficient F_c stays far below it.
RANK_TOL = 1e-6
_F64 = torch.float64
#: What ``k`` means, for its error message (shared with ``metrics.Richness``).
_K_HINT = "it is the number of leading modes kept in each curve; None keeps all p"


class RichnessResult(NamedTuple):
    """D_LR and the spectral curves of one set of samples (float64; curves of length K ≤ p).

    ``quality_cumulative`` and ``quality`` are None when no targets were given.
    """

    d_lr: Tensor  # 0-d, in [0, 1]
    quality_cumulative: Tensor | None  # Π*(k)
    utilization_cumulative: Tensor  # Π̂(k)
    quality: Tensor | None  # Q*(k) = Π*(k) − Π*(k−1)
    utilization: Tensor  # Q̂(k)
    relative_norms: Tensor  # ρ_k / ρ_1
    eigenvalues: Tensor  # ρ_k of G = ΦᵀΦ/n, descending


class _Moments(NamedTuple):
    """Sufficient statistics of (Φ, F, Y) for D_LR and the curves; every field is a sum."""

    num_samples: Tensor  # 0-d, n
    phi_sum: Tensor  # (p,)  Σφ
    out_sum: Tensor  # (C,)  Σf
    phi_phi: Tensor  # (p, p) ΦᵀΦ
    phi_out: Tensor  # (p, C) ΦᵀF
    out_out: Tensor  # (C, C) FᵀF
    phi_target: Tensor | None  # (p, C') ΦᵀY
    target_sq: Tensor | None  # 0-d, Σ_i ‖y_i‖²


# ---------------------------------------------------------------------------------------------
# validation


def _feature_matrix(name: str, value: object) -> Tensor:
    x = check_tensor(name, value)
    if x.ndim == 2 and x.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 columns (shape {tuple(x.shape)}); pass the activations of a layer "
            f"with at least one unit (for D_LR: the input of the final linear layer)"
        )
    return check_matrix(name, x)


def _pair(features: object, outputs: object) -> tuple[Tensor, Tensor]:
    phi = _feature_matrix("features", features)
    out = _feature_matrix("outputs", outputs)
    check_same_rows("features", phi, "outputs", out)
    n, c = out.shape
    if n < c + 1:
        raise ValueError(
            f"D_LR needs more samples than output columns: got n = {n} samples for C = {c} "
            f"outputs; with n ≤ C the centred outputs span every centred direction and the "
            f"value is meaningless — measure on at least C + 1 (better ≥ 2·p) samples"
        )
    return phi.to(_F64), out.to(_F64)


def _targets_matrix(targets: object, *, n: int, num_classes: int | None, c: int) -> Tensor:
    """One-hot (n, C) float64 from integer labels, or a validated (n, C') target matrix."""
    y = check_tensor("targets", targets)
    if y.ndim == 2 and y.is_floating_point():
        y = check_matrix("targets", y)
        if y.shape[0] != n:
            raise ValueError(f"targets has {y.shape[0]} rows but features has {n} samples")
        return y.to(_F64)
    classes = c if num_classes is None else num_classes
    y = check_labels("targets", y, n=n, num_classes=classes)
    return torch.nn.functional.one_hot(y.long(), classes).to(_F64)


# ---------------------------------------------------------------------------------------------
# D_LR


def _negligible(centred: Tensor, raw: Tensor, size: int) -> bool:
    """Whether a centred norm is round-off of the uncentred one: the rows are all the same."""
    return float(centred) <= size * torch.finfo(_F64).eps * float(raw)


def _centred_output_basis(out: Tensor) -> Tensor:
    """Q (n, r): orthonormal basis of span{F_c} from the thin SVD, rank tolerance RANK_TOL."""
    u, s, _ = torch.linalg.svd(out - out.mean(dim=0), full_matrices=False)
    if _negligible(s[0], torch.linalg.matrix_norm(out), max(out.shape)):
        _raise_constant_outputs()
    r = int((s > RANK_TOL * s[0]).sum())
    return u[:, :r]


def _raise_constant_outputs() -> None:
    raise ValueError(
        "outputs are constant across samples (rank 0 after centring): the learned function "
        "is the same for every input and D_LR is undefined — measure on samples the "
        "network tells apart"
    )


def _raise_constant_features() -> None:
    raise ValueError(
        "features are constant across samples (rank 0 after centring: every row is the same), "
        "so the feature kernel is 0 after centring and D_LR is 0/0 — check that the layer is "
        "alive (e.g. not all dead ReLUs) and that the samples differ"
    )


def _d_lr_from_samples(phi: Tensor, out: Tensor, chunk_size: int | None) -> Tensor:
    n, p = phi.shape
    mean = phi.mean(dim=0)
    q = _centred_output_basis(out)
    r = q.shape[1]
    slices = row_slices(n, chunk_size)
    aligned = torch.zeros(r, p, dtype=_F64, device=phi.device)  # QᵀΦ_c
    for rows in slices:
        aligned += q[rows].mT @ (phi[rows] - mean)
    if n >= p:
        gram = torch.zeros(p, p, dtype=_F64, device=phi.device)  # Φ_cᵀΦ_c
        for rows in slices:
            block = phi[rows] - mean
            gram += block.mT @ block
    else:
        centred = phi - mean
        gram = torch.cat([centred[rows] @ centred.mT for rows in slices])  # Φ_cΦ_cᵀ
    scale = torch.linalg.matrix_norm(phi) ** 2  # ≥ ‖ΦᵀΦ‖_F, the uncentred Gram's norm
    return _d_lr_value(aligned.square().sum(), gram, r, scale, max(n, p))


def _d_lr_value(numerator: Tensor, gram: Tensor, r: int, scale: Tensor, size: int) -> Tensor:
    norm = torch.linalg.matrix_norm(gram)
    if _negligible(norm, scale, size):
        _raise_constant_features()
    # CKA ∈ [0, 1] by Cauchy–Schwarz; round-off may step outside by ~eps.
    return (1.0 - numerator / (math.sqrt(r) * norm)).clamp(0.0, 1.0)


def d_lr(features: Tensor, outputs: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Low-rank richness D_LR = 1 − CKA(ΦΦᵀ, projection onto the centred outputs) ∈ [0, 1].

    0 when the centred features span exactly the centred learned functions with equal strength
    (neural collapse onto a simplex ETF, balanced classes: the richest case); near 1 when the
    features keep many directions of unequal strength (lazy). Uses neither labels nor the
    initial network. Formula and conventions in the module docstring.

    Args:
        features: (n, p) last-layer features Φ, rows are samples, finite.
        outputs: (n, C) outputs F on the same samples (logits, bias included), n ≥ C + 1.
        chunk_size: rows processed at a time when accumulating Φ_cᵀΦ_c and QᵀΦ_c (memory
            knob); None processes all rows at once. The value does not depend on it.

    Returns:
        0-d float64 tensor in [0, 1].

    Raises:
        ValueError: too few samples, mismatched rows, NaN/Inf, no columns, or features or
            outputs constant across samples (rank 0 after centring).

    Example:
        >>> labels = torch.arange(40) % 4
        >>> etf = 5.0 * (torch.eye(4) - 0.25)  # class means on a simplex ETF
        >>> features = etf[labels] + 1.0        # collapsed, plus a common offset
        >>> logits = features @ torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
        >>> round(float(d_lr(features, logits)), 6)
        0.0
    """
    check_chunk_size(chunk_size)
    phi, out = _pair(features, outputs)
    return _d_lr_from_samples(phi, out, chunk_size)


# ---------------------------------------------------------------------------------------------
# moments: the exact route without samples


def _moments(
    phi: Tensor, out: Tensor, targets: Tensor | None, chunk_size: int | None = None
) -> _Moments:
    """Sums over the rows of float64 (Φ, F, Y), ``chunk_size`` rows at a time."""
    p, c = phi.shape[1], out.shape[1]
    phi_phi = torch.zeros(p, p, dtype=_F64, device=phi.device)
    for rows in row_slices(phi.shape[0], chunk_size):
        phi_phi += phi[rows].mT @ phi[rows]
    return _Moments(
        num_samples=torch.tensor(float(phi.shape[0]), dtype=_F64, device=phi.device),
        phi_sum=phi.sum(dim=0),
        out_sum=out.sum(dim=0),
        phi_phi=phi_phi,
        phi_out=phi.mT @ out if c else phi.new_zeros(p, 0),
        out_out=out.mT @ out,
        phi_target=None if targets is None else phi.mT @ targets,
        target_sq=None if targets is None else targets.square().sum(),
    )


def _d_lr_from_moments(m: _Moments) -> Tensor:
    n = m.num_samples
    mu, nu = m.phi_sum / n, m.out_sum / n
    phi_c_phi_c = m.phi_phi - n * torch.outer(mu, mu)  # Φ_cᵀΦ_c
    out_c_out_c = m.out_out - n * torch.outer(nu, nu)  # F_cᵀF_c = V S² Vᵀ
    out_c_phi_c = (m.phi_out - n * torch.outer(mu, nu)).mT  # F_cᵀΦ_c
    s2, v = torch.linalg.eigh(out_c_out_c)
    s = s2.clamp_min(0).sqrt()
    size = max(int(n), *m.phi_phi.shape, *m.out_out.shape)
    # Centring by subtraction leaves round-off of order eps·‖FᵀF‖ even for constant outputs.
    if _negligible(s2.max(), torch.linalg.matrix_norm(m.out_out), size):
        _raise_constant_outputs()
    keep = s > RANK_TOL * s.max()
    r = int(keep.sum())
    aligned = (v[:, keep].mT @ out_c_phi_c) / s[keep, None]  # QᵀΦ_c = S_r⁻¹ V_rᵀ F_cᵀΦ_c
    scale = torch.linalg.matrix_norm(m.phi_phi)
    return _d_lr_value(aligned.square().sum(), phi_c_phi_c, r, scale, size)


def _curves(
    rho: Tensor, coef_out: Tensor, out_sq: Tensor, coef_target: Tensor | None, target_sq: Tensor
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Per-mode utilisation and quality from ⟨e_j|f_c⟩ (rows j) and the function norms."""
    utilization = coef_out.square().sum(dim=1) / out_sq
    quality = None if coef_target is None else coef_target.square().sum(dim=1) / target_sq
    top = rho[0] if rho.numel() and float(rho[0]) > 0 else rho.new_ones(())
    return utilization, quality, (rho / top).clamp_min(0.0)


def _null_modes(rho: Tensor, size: int) -> Tensor:
    top = float(rho[0]) if rho.numel() else 0.0
    return rho <= size * torch.finfo(_F64).eps * top


def _spectrum_from_moments(m: _Moments) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """(ρ desc, utilisation Q̂, quality Q* or None, ρ/ρ_1) from G = ΦᵀΦ/n (p×p eigh)."""
    n = m.num_samples
    rho, v = torch.linalg.eigh(m.phi_phi / n)
    rho, v = rho.flip(0), v.flip(1)
    null = _null_modes(rho, max(int(n), rho.numel()))
    # ⟨e_j|f⟩ = v_jᵀ Φᵀf / (n √ρ_j); null modes are set to 0 instead of 0/0.
    scale = torch.where(null, torch.zeros_like(rho), 1.0 / rho.clamp_min(1e-300).sqrt())
    coef_out = (v.mT @ m.phi_out / n) * scale[:, None]
    coef_t = None if m.phi_target is None else (v.mT @ m.phi_target / n) * scale[:, None]
    tsq = m.target_sq / n if m.target_sq is not None else n.new_ones(())
    rho = torch.where(null, torch.zeros_like(rho), rho)  # round-off of exact zeros
    utilization, quality, rel = _curves(
        rho, coef_out, torch.diagonal(m.out_out).sum() / n, coef_t, tsq
    )
    return rho, utilization, quality, rel


def _spectrum_from_dual(
    phi: Tensor, out: Tensor, targets: Tensor | None, chunk_size: int | None
) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """The same from the n×n dual ΦΦᵀ/n = U Λ Uᵀ (cheaper when n < p): e_k = √n·u_k."""
    n, p = phi.shape
    gram = torch.cat([phi[rows] @ phi.mT for rows in row_slices(n, chunk_size)]) / n
    lam, u = torch.linalg.eigh(gram)
    lam, u = lam.flip(0), u.flip(1)
    null = _null_modes(lam, max(n, p))
    u = u * (~null).to(_F64)  # ⟨e_k|f⟩ = u_kᵀ f / √n, 0 on null modes
    lam = torch.where(null, torch.zeros_like(lam), lam)
    coef_out = u.mT @ out / math.sqrt(n)
    coef_t = None if targets is None else u.mT @ targets / math.sqrt(n)
    tsq = targets.square().sum() / n if targets is not None else out.new_ones(())
    utilization, quality, rel = _curves(
        lam.clamp_min(0.0), coef_out, out.square().sum() / n, coef_t, tsq
    )
    pad = p - n  # modes beyond n are exactly null
    if pad > 0:
        zeros = lam.new_zeros(pad)
        lam, utilization, rel = (torch.cat([t, zeros]) for t in (lam, utilization, rel))
        quality = None if quality is None else torch.cat([quality, zeros])
    return lam.clamp_min(0.0), utilization, quality, rel


def _assemble(
    value: Tensor,
    spectrum: tuple[Tensor, Tensor, Tensor | None, Tensor],
    k: int | None,
) -> RichnessResult:
    rho, utilization, quality, rel = spectrum
    cut = slice(0, k)
    return RichnessResult(
        d_lr=value,
        quality_cumulative=None if quality is None else quality.cumsum(0)[cut],
        utilization_cumulative=utilization.cumsum(0)[cut],
        quality=None if quality is None else quality[cut],
        utilization=utilization[cut],
        relative_norms=rel[cut],
        eigenvalues=rho[cut],
    )


def _richness_from_moments(m: _Moments, k: int | None = None) -> RichnessResult:
    """D_LR and the curves from sums alone (the streaming metric's covariance mode)."""
    return _assemble(_d_lr_from_moments(m), _spectrum_from_moments(m), k)


def richness(
    features: Tensor,
    outputs: Tensor,
    targets: Tensor | None = None,
    *,
    num_classes: int | None = None,
    k: int | None = None,
    chunk_size: int | None = None,
) -> RichnessResult:
    """D_LR and the paper's three curves Π*(k), Π̂(k), ρ_k/ρ_1 for one set of samples.

    D_LR as in :func:`d_lr`. The curves (module docstring) come from an eigendecomposition of a
    Gram matrix: of the p×p second moment G = ΦᵀΦ/n when n ≥ p (cost n·p² + p³), else of the
    n×n dual ΦΦᵀ/n (cost n²·p + n³) — the same eigenfunctions, chosen by cost; a thin SVD of
    Φ would give them too but costs more. Read the curves at k = C: a rich network's Π̂ is
    ≈ 1 there and ρ_k/ρ_1 drops after about C modes.

    Args:
        features: (n, p) last-layer features Φ; n ≥ 2p recommended for the curves.
        outputs: (n, C) outputs F (logits, bias included), n ≥ C + 1.
        targets: optional: (n,) integer labels (one-hot inside, ``num_classes`` columns) or an
            (n, C') floating target matrix. Without them Π* and Q* are None.
        num_classes: classes of integer ``targets``; default C, the number of output columns.
        k: keep only the first k modes of each curve (at most p); None keeps all p.
        chunk_size: rows processed at a time when accumulating Grams (memory knob).

    Returns:
        :class:`RichnessResult`, float64; curves have min(k, p) entries.

    Raises:
        ValueError: as :func:`d_lr`, and for bad targets or ``k``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> features = torch.randn(400, 20, generator=g)
        >>> labels = torch.randint(0, 3, (400,), generator=g)
        >>> result = richness(features, features @ torch.randn(20, 3, generator=g), labels)
        >>> tuple(result.utilization_cumulative.shape), round(float(result.relative_norms[0]), 1)
        ((20,), 1.0)
        >>> round(float(result.utilization_cumulative[-1]), 6)  # F lies in span(Φ)
        1.0
    """
    check_chunk_size(chunk_size)
    check_int("k", k, minimum=1, allow_none=True, hint=_K_HINT)
    phi, out = _pair(features, outputs)
    n, p = phi.shape
    y = (
        None
        if targets is None
        else _targets_matrix(targets, n=n, num_classes=num_classes, c=out.shape[1])
    )
    value = _d_lr_from_samples(phi, out, chunk_size)
    if n >= p:
        spectrum = _spectrum_from_moments(_moments(phi, out, y, chunk_size))
    else:
        spectrum = _spectrum_from_dual(phi, out, y, chunk_size)
    return _assemble(value, spectrum, k)
