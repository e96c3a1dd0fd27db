"""Dynamical richness D_LR and its three-panel spectral view (Nam et al., arXiv 2410.04264).

Rows are samples. Φ (n, p) are the last-layer features (inputs of the final linear layer),
F (n, C) the network's outputs on the same samples (logits, bias included — not softmax).
⟨u|v⟩ is the mean over samples of u(x)·v(x). All algebra runs in float64.

**D_LR** (Nam et al. 2024: their Definition 1 of the minimum-projection operator, and
D_LR = 1 − CKA). The feature kernel is K = ΦΦᵀ; the minimum-projection operator
T_MP[u] = a1⟨1|u⟩1 + a2·P_Ĥ(u) projects onto the learned functions Ĥ = span{f̂_c}.
With centred kernel alignment CKA(K, L) = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F), H = I − 11ᵀ/n,

    D_LR = 1 − CKA(K, T_MP) ∈ [0, 1]        (0 richest, 1 laziest)

Centring removes the a1 term and CKA ignores scale, so only the span behind P_Ĥ matters.
Two readings of it (``span``), which differ only when the constant function is not in span{F}:

* ``"outputs"`` (default) — the paper's words, Ĥ = span{f̂_1 … f̂_C}: the raw outputs, bias
  included. Continuous at collapse: D_LR → 0 as the within-class spread of collapsed features
  on a balanced simplex ETF → 0. Stored as ``d_lr``.
* ``"outputs_and_constant"`` — span{1, f̂_1 … f̂_C}, i.e. HPH projects onto the centred outputs
  span{F_c} (infodyn's first implementation). It **jumps** at collapse: exact collapse on a
  simplex ETF gives 0, but any spread above the rank tolerance gives
  ≥ 1 − √((C − 1)/C) (0.051 at C = 10), because noise adds a C-th centred direction.
  Stored as ``d_lr_with_constant``.

No n×n matrix is formed. Q (n, r) is an orthonormal basis of the chosen span: the left
singular vectors of the thin SVD of F for ``"outputs"``; for ``"outputs_and_constant"``,
[1/√n | U_r] with F_c = U S Vᵀ — the two parts are orthogonal, so this is the thin SVD of
[1 | F_c] with F_c's rank counted on its own scale (the constant column's norm √n would
otherwise make the rank, and the value, depend on the scale of the outputs). r counts
s_i > 1e-6·s_1. With Q_c = Q − mean_rows(Q) (so HPH = Q_cQ_cᵀ) and Φ_c = Φ − mean_rows(Φ):

    D_LR = 1 − ‖Q_cᵀΦ_c‖_F² / (‖Q_cᵀQ_c‖_F · ‖Φ_cᵀΦ_c‖_F)

(‖Φ_cΦ_cᵀ‖_F, the same number, when n < p).

For ``"outputs_and_constant"`` Q_cᵀQ_c = diag(0, I_r) and the denominator's first factor is
√r. Cost O(n·p·C + n·p·min(n, p)). The same value follows from the moments
[ΦᵀΦ, ΦᵀF, FᵀF, Σφ, Σf, n] alone (``_richness_from_moments``), for both readings: with
FᵀF = V S² Vᵀ, Q = F V_r S_r⁻¹, so Q_cᵀΦ_c = S_r⁻¹V_rᵀFᵀΦ_c and Q_cᵀQ_c = I − aaᵀ/n with
a = Qᵀ1 = S_r⁻¹V_rᵀΣf (for ``"outputs_and_constant"`` the same with F_cᵀF_c and a = 0) —
which lets a streaming metric keep p×p sums instead of samples.

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
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from infodyn._validation import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_same_rows,
    check_tensor,
)
from infodyn.functional._chunking import check_chunk_size, row_slices

__all__ = [
    "D_LR_METRIC",
    "SPANS",
    "RichnessResult",
    "Span",
    "d_lr",
    "richness",
]

#: Which span P_Ĥ projects onto: the raw outputs (the paper's words) or {1, outputs}.
Span = Literal["outputs", "outputs_and_constant"]
SPANS: tuple[Span, ...] = ("outputs", "outputs_and_constant")
#: The name a stored D_LR value carries, so every record says which reading it is: plain
#: ``d_lr`` is the default reading (the paper's), the other reading says so in its name.
D_LR_METRIC: dict[Span, str] = {
    "outputs": "d_lr",
    "outputs_and_constant": "d_lr_with_constant",
}
#: Singular values below this fraction of the largest count as zero: infodyn's choice,
#: because float64 round-off of a rank-deficient F stays far below it.
RANK_TOL = 1e-6
_F64 = torch.float64
#: What ``k`` means, for its error message (shared with ``metrics.Richness``).
_K_HINT = "it is the number of leading modes kept in each curve; None keeps all p"


class RichnessResult(NamedTuple):
    """D_LR and the spectral curves of one set of samples (float64; curves of length K ≤ p).

    ``quality_cumulative`` and ``quality`` are None when no targets were given; ``span`` is the
    reading D_LR was computed with (see :data:`D_LR_METRIC` for the name it is stored under).
    """

    d_lr: Tensor  # 0-d, in [0, 1]
    quality_cumulative: Tensor | None  # Π*(k)
    utilization_cumulative: Tensor  # Π̂(k)
    quality: Tensor | None  # Q*(k) = Π*(k) − Π*(k−1)
    utilization: Tensor  # Q̂(k)
    relative_norms: Tensor  # ρ_k / ρ_1
    eigenvalues: Tensor  # ρ_k of G = ΦᵀΦ/n, descending
    span: Span = "outputs"  # the reading of D_LR (the curves do not depend on it)


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


def _check_span(span: object) -> Span:
    return check_choice("span", span, SPANS)


def _output_basis(out: Tensor, span: Span) -> Tensor:
    """Q (n, r): orthonormal basis of span{F} or span{1, F} (thin SVD, rank tolerance RANK_TOL).

    For span{1, F} the basis is [1/√n | U_r] with U_r from the SVD of F_c, F_c's rank counted
    relative to its own largest singular value so that the value does not depend on the scale
    of the outputs (the constant column would otherwise set the tolerance).
    """
    centred = out - out.mean(dim=0)
    raw_norm = torch.linalg.matrix_norm(out)
    if _negligible(torch.linalg.matrix_norm(centred), raw_norm, max(out.shape)):
        _raise_constant_outputs()
    if span == "outputs":
        u, s, _ = torch.linalg.svd(out, full_matrices=False)
        return u[:, : int((s > RANK_TOL * s[0]).sum())]
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    ones = torch.full((out.shape[0], 1), out.shape[0] ** -0.5, dtype=_F64, device=out.device)
    return torch.cat([ones, u[:, : int((s > RANK_TOL * s[0]).sum())]], dim=1)


def _raise_constant_outputs() -> None:
    raise ValueError(
        "outputs are constant across samples (rank 0 after centring): the learned function "
        "is the same for every input and D_LR is undefined — measure on samples the "
        "network tells apart"
    )


def _projection_norm(qc_qc: Tensor) -> Tensor:
    """‖Q_cᵀQ_c‖_F = ‖HPH‖_F, after checking that span{F} is not the constant function alone.

    trace(Q_cᵀQ_c) = ‖HQ‖_F² is the squared share of the span outside the constant function;
    below RANK_TOL² every basis function is constant up to the rank tolerance.
    """
    if float(torch.trace(qc_qc)) <= RANK_TOL**2:
        raise ValueError(
            "the outputs are constant across samples up to the rank tolerance "
            f"({RANK_TOL:g} of their size): with span='outputs', span{{F}} is then the "
            "constant function, which centring removes, and D_LR is undefined — measure on "
            "samples the network tells apart, or use span='outputs_and_constant', which "
            "centres the outputs before counting their rank"
        )
    return torch.linalg.matrix_norm(qc_qc)


def _raise_constant_features() -> None:
    raise ValueError(
        "features are constant across samples (rank 0 after centring: every row is the same), "
        "so the feature kernel is 0 after centring and D_LR is 0/0 — check that the layer is "
        "alive (e.g. not all dead ReLUs) and that the samples differ"
    )


def _d_lr_from_samples(phi: Tensor, out: Tensor, span: Span, chunk_size: int | None) -> Tensor:
    n, p = phi.shape
    mean = phi.mean(dim=0)
    q = _output_basis(out, span)
    q_c = q - q.mean(dim=0)  # HQ, so that HPH = Q_cQ_cᵀ
    projection = _projection_norm(q_c.mT @ q_c)  # ‖HPH‖_F
    slices = row_slices(n, chunk_size)
    aligned = torch.zeros(q.shape[1], p, dtype=_F64, device=phi.device)  # Q_cᵀΦ_c
    for rows in slices:
        aligned += q_c[rows].mT @ (phi[rows] - mean)
    if n >= p:
        gram = torch.zeros(p, p, dtype=_F64, device=phi.device)  # Φ_cᵀΦ_c
        for rows in slices:
            block = phi[rows] - mean
            gram += block.mT @ block
    else:
        centred = phi - mean
        gram = torch.cat([centred[rows] @ centred.mT for rows in slices])  # Φ_cΦ_cᵀ
    scale = torch.linalg.matrix_norm(phi) ** 2  # ≥ ‖ΦᵀΦ‖_F, the uncentred Gram's norm
    return _d_lr_value(aligned.square().sum(), gram, projection, scale, max(n, p))


def _d_lr_value(
    numerator: Tensor, gram: Tensor, projection: Tensor, scale: Tensor, size: int
) -> Tensor:
    norm = torch.linalg.matrix_norm(gram)
    if _negligible(norm, scale, size):
        _raise_constant_features()
    # CKA ∈ [0, 1] by Cauchy–Schwarz; round-off may step outside by ~eps.
    return (1.0 - numerator / (projection * norm)).clamp(0.0, 1.0)


def d_lr(
    features: Tensor,
    outputs: Tensor,
    *,
    span: Span = "outputs",
    chunk_size: int | None = None,
) -> Tensor:
    """Low-rank richness D_LR = 1 − CKA(ΦΦᵀ, projection onto the learned outputs) ∈ [0, 1].

    0 when the centred features span exactly the learned functions with equal strength
    (neural collapse onto a simplex ETF, balanced classes: the richest case); near 1 when the
    features keep many directions of unequal strength (lazy). Uses neither labels nor the
    initial network. Formula, the two readings and conventions in the module docstring.

    Args:
        features: (n, p) last-layer features Φ, rows are samples, finite.
        outputs: (n, C) outputs F on the same samples (logits, bias included), n ≥ C + 1.
        span: ``"outputs"`` (default, Nam et al.'s Ĥ = span{f̂_1 … f̂_C}; continuous at
            collapse) or ``"outputs_and_constant"`` (span{1, f̂_c}: the projection onto the
            centred outputs; jumps to ≥ 1 − √((C − 1)/C) once the spread of collapsed
            features exceeds the rank tolerance). Stored under the names in
            :data:`D_LR_METRIC`.
        chunk_size: rows processed at a time when accumulating Φ_cᵀΦ_c and Q_cᵀΦ_c (memory
            knob); None processes all rows at once. The value does not depend on it.

    Returns:
        0-d float64 tensor in [0, 1].

    Raises:
        ValueError: too few samples, mismatched rows, NaN/Inf, no columns, an unknown
            ``span``, or features or outputs constant across samples (rank 0 after centring;
            for ``span="outputs"`` also: constant up to the rank tolerance).

    Example:
        >>> labels = torch.arange(40) % 4
        >>> etf = 5.0 * (torch.eye(4) - 0.25)  # class means on a simplex ETF
        >>> features = etf[labels] + 1.0        # collapsed, plus a common offset
        >>> logits = features @ torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
        >>> round(float(d_lr(features, logits)), 6)
        0.0

        A within-class spread of 1e-4 keeps the paper's reading near 0; span{1, F} jumps to
        1 − √((C − 1)/C) = 0.134 at C = 4:

        >>> noisy = features + 1e-4 * torch.randn(40, 4, generator=torch.Generator().manual_seed(1))
        >>> logits = noisy @ torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
        >>> with_constant = d_lr(noisy, logits, span="outputs_and_constant")
        >>> round(float(d_lr(noisy, logits)), 6), round(float(with_constant), 3)
        (0.0, 0.134)
    """
    check_chunk_size(chunk_size)
    span = _check_span(span)
    phi, out = _pair(features, outputs)
    return _d_lr_from_samples(phi, out, span, chunk_size)


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


def _d_lr_from_moments(m: _Moments, span: Span = "outputs") -> Tensor:
    n = m.num_samples
    mu, nu = m.phi_sum / n, m.out_sum / n
    phi_c_phi_c = m.phi_phi - n * torch.outer(mu, mu)  # Φ_cᵀΦ_c
    out_c_out_c = m.out_out - n * torch.outer(nu, nu)  # F_cᵀF_c
    size = max(int(n), *m.phi_phi.shape, *m.out_out.shape)
    # Centring by subtraction leaves round-off of order eps·‖FᵀF‖ even for constant outputs.
    if _negligible(torch.linalg.eigvalsh(out_c_out_c).max(), m.out_out.norm(), size):
        _raise_constant_outputs()
    out_phi_c = (m.phi_out - n * torch.outer(mu, nu)).mT  # FᵀΦ_c = F_cᵀΦ_c (Φ_c is centred)
    s2, v = torch.linalg.eigh(m.out_out if span == "outputs" else out_c_out_c)  # V S² Vᵀ
    s = s2.clamp_min(0).sqrt()
    keep = s > RANK_TOL * s.max()
    basis = v[:, keep] / s[keep]  # Q = F·V_r S_r⁻¹ (or F_c·V_r S_r⁻¹)
    aligned = basis.mT @ out_phi_c  # Q_cᵀΦ_c = QᵀΦ_c
    if span == "outputs":
        a = basis.mT @ m.out_sum  # a = Qᵀ1 = S_r⁻¹V_rᵀFᵀ1
        qc_qc = torch.eye(a.numel(), dtype=_F64, device=a.device) - torch.outer(a, a) / n
    else:  # [1/√n | F_c V_r S_r⁻¹]: the constant column centres to 0, the rest is orthonormal
        qc_qc = torch.eye(int(keep.sum()), dtype=_F64, device=s.device)
    projection = _projection_norm(qc_qc)
    scale = torch.linalg.matrix_norm(m.phi_phi)
    return _d_lr_value(aligned.square().sum(), phi_c_phi_c, projection, scale, size)


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
    span: Span,
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
        span=span,
    )


def _richness_from_moments(
    m: _Moments, k: int | None = None, span: Span = "outputs"
) -> RichnessResult:
    """D_LR and the curves from sums alone (the streaming metric's covariance mode)."""
    return _assemble(_d_lr_from_moments(m, span), _spectrum_from_moments(m), k, span)


def richness(
    features: Tensor,
    outputs: Tensor,
    targets: Tensor | None = None,
    *,
    num_classes: int | None = None,
    k: int | None = None,
    span: Span = "outputs",
    chunk_size: int | None = None,
) -> RichnessResult:
    """D_LR and the paper's three curves Π*(k), Π̂(k), ρ_k/ρ_1 for one set of samples.

    D_LR as in :func:`d_lr` (``span`` picks its reading). The curves (module docstring) come
    from an eigendecomposition of a Gram matrix: of the p×p second moment G = ΦᵀΦ/n when
    n ≥ p (cost n·p² + p³), else of the n×n dual ΦΦᵀ/n (cost n²·p + n³) — the same
    eigenfunctions, chosen by cost; a thin SVD of Φ would give them too but costs more. Read
    the curves at k = C: a rich network's Π̂ is ≈ 1 there and ρ_k/ρ_1 drops after about C
    modes.

    Args:
        features: (n, p) last-layer features Φ; n ≥ 2p recommended for the curves.
        outputs: (n, C) outputs F (logits, bias included), n ≥ C + 1.
        targets: optional: (n,) integer labels (one-hot inside, ``num_classes`` columns) or an
            (n, C') floating target matrix. Without them Π* and Q* are None.
        num_classes: classes of integer ``targets``; default C, the number of output columns.
        k: keep only the first k modes of each curve (at most p); None keeps all p.
        span: the reading of D_LR, ``"outputs"`` (default) or ``"outputs_and_constant"``, as
            in :func:`d_lr`; the curves do not depend on it.
        chunk_size: rows processed at a time when accumulating Grams (memory knob).

    Returns:
        :class:`RichnessResult`, float64, with ``span`` recorded; curves have min(k, p)
        entries.

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
    span = _check_span(span)
    phi, out = _pair(features, outputs)
    n, p = phi.shape
    y = (
        None
        if targets is None
        else _targets_matrix(targets, n=n, num_classes=num_classes, c=out.shape[1])
    )
    value = _d_lr_from_samples(phi, out, span, chunk_size)
    if n >= p:
        spectrum = _spectrum_from_moments(_moments(phi, out, y, chunk_size))
    else:
        spectrum = _spectrum_from_dual(phi, out, y, chunk_size)
    return _assemble(value, spectrum, k, span)
