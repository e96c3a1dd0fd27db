"""Neural-collapse measures from streaming sufficient statistics (METRICS.md §3).

Notation: h_i ∈ ℝ^d the penultimate feature of sample i, y_i its class, N_c samples per class,
p_c = N_c/N, μ_c the class means, μ_G the global mean, M̃ the C×d matrix with rows μ_c − μ_G,
W (C, d) and b (C,) the classifier head. Every measure except NC4 and the margins is a function
of ``CollapseStats``: per-class counts, sums Σ h, squared-norm sums Σ ‖h‖², norm sums Σ ‖h‖, the
largest ‖h‖ and — for NC1 only — the pooled second moment Σ h hᵀ. Memory is O(C·d + d²), never
O(N), and two batches merge by addition, so one streaming pass suffices.

Numerical stability. Variances come out as differences of large sums (Σ‖h‖² − ‖Σh‖²/N_c); for
features far from the origin they cancel catastrophically. Sums are therefore taken in float64
of h − r for a reference vector r kept in the statistics (by default the mean of the first
batch), which makes the result independent of a common offset of the features to ~1e-10
relative. ``_merge`` re-expresses one batch's sums around the other's reference exactly.

Value ranges and values at exact collapse (class means μ_c − μ_G forming a simplex ETF, zero
within-class spread) are given in each function's docstring. μ_G is the sample mean, as in
Papyan et al., so with unbalanced classes an ETF of the class means around their unweighted
centre does not give the collapse values; balanced classes do.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from infodyn._validation import (
    check_finite,
    check_labels,
    check_matrix,
    check_same_rows,
    check_tensor,
)

__all__ = [
    "MEASURES",
    "CollapseStats",
    "between_class_variance",
    "cdnv",
    "margins",
    "mean_feature_norm",
    "nc1",
    "nc1_trace",
    "nc2_cond",
    "nc2_equiangularity",
    "nc2_equinorm",
    "nc2_etf_error",
    "nc3",
    "nc4",
    "rnc1",
    "within_class_variance",
]

#: Every measure ``_collapse_compute`` can return (NC4 needs the samples: see ``nc4``).
MEASURES = (
    "within_class_variance",
    "between_class_variance",
    "mean_feature_norm",
    "rnc1",
    "nc1",
    "nc1_trace",
    "nc2_equinorm",
    "nc2_equiangularity",
    "nc2_etf_error",
    "nc2_cond",
    "nc3",
    "cdnv",
)
#: Measures that need the d×d second moment Σ h hᵀ (Σ_W): only NC1.
NEEDS_SECOND_MOMENT = frozenset({"nc1"})
#: Eigenvalues of Σ_B at or below this fraction of the largest are treated as 0 in Σ_B⁺
#: [ours]. Σ_B has rank ≤ C − 1 in exact arithmetic (≤ C for unbalanced classes), and its
#: null eigenvalue comes out at ~C·eps·λ_max in float64; 1e-10 separates the two with margin.
PINV_RTOL = 1e-10

RNC1Norm = Literal["mean", "max"]


@dataclass
class CollapseStats:
    """Sufficient statistics of one or more batches, float64, around ``reference`` r.

    Attributes:
        counts: (C,) samples per class N_c.
        sums: (C, d) Σ_{i∈c} (h_i − r).
        sq_norm_sums: (C,) Σ_{i∈c} ‖h_i − r‖².
        norm_sums: (C,) Σ_{i∈c} ‖h_i‖ (not shifted: the mean norm is not offset-invariant).
        max_norm: () max_i ‖h_i‖.
        reference: (d,) the shift r.
        second_moment: (d, d) Σ_i (h_i − r)(h_i − r)ᵀ, or None when not requested.
    """

    counts: Tensor
    sums: Tensor
    sq_norm_sums: Tensor
    norm_sums: Tensor
    max_norm: Tensor
    reference: Tensor
    second_moment: Tensor | None = None


def _resolve_num_classes(labels: object, num_classes: int | None) -> int:
    """``num_classes``, or labels.max() + 1 when None; at least 2 either way."""
    y = check_tensor("labels", labels)
    if num_classes is None:
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.numel() == 0:
            check_labels("labels", y, n=y.shape[0] if y.ndim else -1, num_classes=1)
        num_classes = int(y.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an int or None, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(
            f"num_classes is {num_classes} (labels hold 1 distinct class); neural collapse "
            f"needs at least 2 classes — pass num_classes and features of 2 or more classes"
        )
    return num_classes


def _collapse_update(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    second_moment: bool,
    reference: Tensor | None = None,
) -> CollapseStats:
    """Statistics of one batch: ``features`` (n, d), ``labels`` (n,) in [0, num_classes).

    ``reference`` (d,) is the shift r; None takes this batch's mean (best for one-shot use).
    """
    # One float64 copy of the batch, shifted in place below: the only O(n·d) memory used.
    x = check_matrix("features", features, min_rows=1).detach().to(torch.float64, copy=True)
    y = check_labels("labels", labels, n=x.shape[0], num_classes=num_classes).to(x.device)
    norms = torch.linalg.vector_norm(x, dim=1)
    if reference is None:
        r = x.mean(0)
    else:
        r = check_tensor("reference", reference).detach().to(x)
        if r.shape != (x.shape[1],):
            raise ValueError(
                f"reference has shape {tuple(r.shape)} but features have {x.shape[1]} columns"
            )
        check_finite("reference", r)
    shifted = x.sub_(r)
    zeros_c = torch.zeros(num_classes, dtype=torch.float64, device=x.device)
    return CollapseStats(
        counts=torch.bincount(y, minlength=num_classes).to(torch.float64),
        sums=torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device).index_add_(
            0, y, shifted
        ),
        sq_norm_sums=zeros_c.index_add(0, y, shifted.square().sum(1)),
        norm_sums=zeros_c.index_add(0, y, norms),
        max_norm=norms.max(),
        reference=r,
        second_moment=shifted.mT @ shifted if second_moment else None,
    )


def _rereference(stats: CollapseStats, reference: Tensor) -> CollapseStats:
    """The same statistics around another reference r' (exact; no large cancellation).

    With δ = r − r': Σ(h − r') = S + N_c δ; Σ‖h − r'‖² = Q + 2⟨S, δ⟩ + N_c‖δ‖²;
    Σ(h − r')(h − r')ᵀ = M + s δᵀ + δ sᵀ + N δδᵀ with s = Σ_c S_c.
    """
    delta = stats.reference - reference
    sums = stats.sums + stats.counts[:, None] * delta
    sq = stats.sq_norm_sums + 2 * stats.sums @ delta + stats.counts * delta.dot(delta)
    moment = stats.second_moment
    if moment is not None:
        total = stats.sums.sum(0)
        moment = (
            moment
            + torch.outer(total, delta)
            + torch.outer(delta, total)
            + stats.counts.sum() * torch.outer(delta, delta)
        )
    return CollapseStats(stats.counts, sums, sq, stats.norm_sums, stats.max_norm, reference, moment)


def _merge(a: CollapseStats, b: CollapseStats) -> CollapseStats:
    """Statistics of the union of two sets of samples, around ``a``'s reference."""
    if a.sums.shape != b.sums.shape:
        raise ValueError(
            f"cannot merge statistics of shape {tuple(a.sums.shape)} and {tuple(b.sums.shape)}"
            f"; both must have the same number of classes and features"
        )
    if (a.second_moment is None) != (b.second_moment is None):
        raise ValueError("cannot merge statistics with and without the second moment")
    b = _rereference(b, a.reference)
    moment = None
    if a.second_moment is not None and b.second_moment is not None:
        moment = a.second_moment + b.second_moment
    return CollapseStats(
        a.counts + b.counts,
        a.sums + b.sums,
        a.sq_norm_sums + b.sq_norm_sums,
        a.norm_sums + b.norm_sums,
        torch.maximum(a.max_norm, b.max_norm),
        a.reference,
        moment,
    )


def _check_classes(counts: Tensor) -> None:
    """Raise unless every one of the C classes has at least one sample (and C ≥ 2)."""
    present = int((counts > 0).sum())
    if present < 2:
        raise ValueError(
            f"labels hold {present} distinct class(es); neural collapse needs at least 2 "
            f"classes present — measure on a batch or pass that covers several classes"
        )
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise ValueError(
            f"class {missing[0]} has no samples ({len(missing)} of {counts.numel()} classes "
            f"absent: {missing[:10]}); pass the right num_classes or a batch that covers "
            f"every class"
        )


def _class_means(stats: CollapseStats) -> Tensor:
    """The (C, d) class means μ_c in the features' own coordinates."""
    return stats.reference + stats.sums / stats.counts[:, None]


def _collapse_compute(
    stats: CollapseStats,
    *,
    measures: Collection[str] = MEASURES,
    rnc1_norm: RNC1Norm = "mean",
    weight: Tensor | None = None,
    pinv_rtol: float = PINV_RTOL,
) -> dict[str, Tensor]:
    """The requested ``measures`` (names from ``MEASURES``) as 0-d float64 tensors.

    ``nc3`` needs ``weight`` (C, d); ``nc1`` needs ``stats.second_moment``.
    """
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise ValueError(f"unknown measure(s) {sorted(unknown)}; choose from {MEASURES}")
    if rnc1_norm not in ("mean", "max"):
        raise ValueError(f"rnc1_norm must be 'mean' or 'max', got {rnc1_norm!r}")
    _check_classes(stats.counts)
    counts, sums = stats.counts, stats.sums
    num_classes, n = counts.numel(), counts.sum()
    means = sums / counts[:, None]  # around the reference
    centred = means - sums.sum(0) / n  # M̃, rows μ_c − μ_G
    # Within-class sum of squares per class; round-off can leave −1e-17 for zero spread.
    within_ss = (stats.sq_norm_sums - sums.square().sum(1) / counts).clamp_min(0.0)
    v_w = within_ss.sum() / n
    centred_norms = torch.linalg.vector_norm(centred, dim=1)
    v_b = (counts / n * centred_norms.square()).sum()
    if float(v_b) <= 0.0:
        raise ValueError(
            "all class means coincide (between-class variance is 0), so the collapse "
            "measures are undefined; check that labels pair with their features"
        )
    out: dict[str, Tensor] = {}
    want = set(measures)
    if "within_class_variance" in want:
        out["within_class_variance"] = v_w
    if "between_class_variance" in want:
        out["between_class_variance"] = v_b
    mean_norm = stats.norm_sums.sum() / n
    if "mean_feature_norm" in want:
        out["mean_feature_norm"] = mean_norm
    if "rnc1" in want:
        scale = mean_norm if rnc1_norm == "mean" else stats.max_norm
        out["rnc1"] = v_w / scale.square()
    if "nc1" in want:
        if stats.second_moment is None:
            raise ValueError("nc1 needs the second moment: collect with second_moment=True")
        sigma_w = (stats.second_moment - sums.mT @ means) / n
        gram = centred @ centred.mT  # C·(the non-zero spectrum of Σ_B) lives here
        lam, vec = torch.linalg.eigh(gram)
        keep = lam > pinv_rtol * lam.max()
        lam, vec = lam[keep], vec[:, keep]
        # Σ_B = M̃ᵀM̃/C has eigenpairs (λ_k/C, M̃ᵀu_k/√λ_k), so (1/C)·tr(Σ_W Σ_B⁺) =
        # Σ_k u_kᵀ M̃ Σ_W M̃ᵀ u_k / λ_k²: a C×C problem instead of a d×d one.
        projected = vec.mT @ centred
        nc1_value = ((projected @ sigma_w * projected).sum(1) / lam.square()).sum()
        out["nc1"] = nc1_value.clamp_min(0.0)  # Σ_W is PSD; round-off can give −1e-18
    if "nc1_trace" in want:
        out["nc1_trace"] = v_w / v_b
    if "nc2_equinorm" in want:
        # Sample std (ddof = 1), as torch.std in Papyan et al.'s code.
        out["nc2_equinorm"] = centred_norms.std() / centred_norms.mean()
    off_diagonal = ~torch.eye(num_classes, dtype=torch.bool, device=counts.device)
    if "nc2_equiangularity" in want:
        cosines = (centred @ centred.mT) / torch.outer(centred_norms, centred_norms)
        out["nc2_equiangularity"] = (cosines + 1 / (num_classes - 1)).abs()[off_diagonal].mean()
    if "nc2_etf_error" in want:
        gram = centred @ centred.mT
        eye = torch.eye(num_classes, dtype=gram.dtype, device=gram.device)
        etf = (eye - 1.0 / num_classes) / (num_classes - 1) ** 0.5
        out["nc2_etf_error"] = torch.linalg.matrix_norm(gram / gram.norm() - etf)
    if "nc2_cond" in want:
        sv = torch.linalg.svdvals(_class_means(stats))  # uncentred M, METRICS.md §3
        out["nc2_cond"] = sv.max() / sv.min() if float(sv.min()) > 0 else sv.max() / 0.0
    if "nc3" in want:
        if weight is None:
            raise ValueError("nc3 needs the classifier weight (C, d)")
        w = _check_weight(weight, num_classes, sums.shape[1]).to(sums)
        out["nc3"] = (w / w.norm() - centred / centred.norm()).square().sum()
    if "cdnv" in want:
        var = within_ss / counts
        dist2 = torch.cdist(centred, centred).square()  # offsets cancel in M̃
        ratio = (var[:, None] + var[None, :]) / (2 * dist2)
        out["cdnv"] = ratio[off_diagonal].mean()
    return out


def _check_weight(weight: object, num_classes: int, dim: int) -> Tensor:
    w = check_matrix("weight", weight, min_rows=1)
    if w.shape != (num_classes, dim):
        raise ValueError(
            f"weight has shape {tuple(w.shape)} but the features need ({num_classes}, {dim}): "
            f"one row per class, one column per feature"
        )
    return w


def _check_bias(bias: object, num_classes: int) -> Tensor | None:
    if bias is None:
        return None
    b = check_tensor("bias", bias)
    if b.shape != (num_classes,):
        raise ValueError(f"bias has shape {tuple(b.shape)}, expected ({num_classes},)")
    check_finite("bias", b)
    return b


def _nc4_mismatches(features: Tensor, weight: Tensor, bias: Tensor | None, means: Tensor) -> Tensor:
    """How many rows of ``features`` the head (argmax Wh + b) and the nearest of ``means``
    (C, d) classify differently, as a 0-d float64 count."""
    x = features.detach().to(torch.float64)
    logits = x @ weight.detach().to(x).mT
    if bias is not None:
        logits = logits + bias.detach().to(x)
    # Distances after removing a common centre: cdist's matmul form would otherwise cancel
    # for features far from the origin.
    centre = means.mean(0)
    nearest = torch.cdist(x - centre, means.to(x) - centre).argmin(1)
    return (logits.argmax(1) != nearest).sum().to(torch.float64)


def _one_shot(
    features: Tensor, labels: Tensor, num_classes: int | None, *, second_moment: bool = False
) -> CollapseStats:
    x = check_matrix("features", features)  # N ≥ 2, d ≥ 1, finite
    check_same_rows("features", x, "labels", check_tensor("labels", labels))
    stats = _collapse_update(
        x, labels, _resolve_num_classes(labels, num_classes), second_moment=second_moment
    )
    _check_classes(stats.counts)
    return stats


def _measure(
    name: str, features: Tensor, labels: Tensor, num_classes: int | None, **options: object
) -> Tensor:
    stats = _one_shot(features, labels, num_classes, second_moment=name in NEEDS_SECOND_MOMENT)
    return _collapse_compute(stats, measures=(name,), **options)[name]  # type: ignore[arg-type]


# A two-class, one-feature example used in the docstrings: classes at 1 ± 1 and 11 ± 1, so
# V_W = 1, V_B = 25, mean norm 6, Σ_W = 1, Σ_B = 25, ‖μ_0 − μ_1‖ = 10.


def within_class_variance(
    features: Tensor, labels: Tensor, *, num_classes: int | None = None
) -> Tensor:
    """Within-class variance V_W = (1/N) Σ_i ‖h_i − μ_{y_i}‖².

    Range [0, ∞); 0 at exact collapse (zero within-class spread). Same units as ‖h‖².

    Args:
        features: (N, d) floating, N ≥ 2, finite.
        labels: (N,) integer classes in [0, C).
        num_classes: C; None takes labels.max() + 1. Every class must be present.

    Returns:
        0-d float64 tensor.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> float(within_class_variance(h, torch.tensor([0, 0, 1, 1])))
        1.0
    """
    return _measure("within_class_variance", features, labels, num_classes)


def between_class_variance(
    features: Tensor, labels: Tensor, *, num_classes: int | None = None
) -> Tensor:
    """Between-class variance V_B = Σ_c p_c ‖μ_c − μ_G‖², p_c = N_c/N.

    Range (0, ∞) (0 — all class means equal — is rejected as undefined for the other
    measures). Shapes and arguments as in ``within_class_variance``.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> float(between_class_variance(h, torch.tensor([0, 0, 1, 1])))
        25.0
    """
    return _measure("between_class_variance", features, labels, num_classes)


def mean_feature_norm(
    features: Tensor, labels: Tensor, *, num_classes: int | None = None
) -> Tensor:
    """Mean feature norm s = (1/N) Σ_i ‖h_i‖, the scale RNC1 divides by (``norm="mean"``).

    Range [0, ∞). Not offset-invariant. Arguments as in ``within_class_variance`` (labels are
    validated so that all measures accept the same inputs).

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> float(mean_feature_norm(h, torch.tensor([0, 0, 1, 1])))
        6.0
    """
    return _measure("mean_feature_norm", features, labels, num_classes)


def rnc1(
    features: Tensor,
    labels: Tensor,
    *,
    norm: RNC1Norm = "mean",
    num_classes: int | None = None,
) -> Tensor:
    """Relative within-class variance RNC1 = V_W / B², Sakamoto & Sato's headline curve.

    B is the mean feature norm s = (1/N) Σ‖h_i‖ with ``norm="mean"`` (the authors' code, the
    default) or the largest norm max_i ‖h_i‖ with ``norm="max"`` (the paper's B_g = sup‖g(x)‖,
    estimated on the samples given). Scale-invariant; range [0, ∞) (≤ 1 with ``"max"``);
    0 at exact collapse.

    Args:
        features: (N, d) floating, N ≥ 2, finite.
        labels: (N,) integer classes in [0, C).
        norm: ``"mean"`` or ``"max"`` [ours: both offered, record which].
        num_classes: C; None takes labels.max() + 1.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> round(float(rnc1(h, y)), 4), round(float(rnc1(h, y, norm="max")), 4)  # 1/36, 1/144
        (0.0278, 0.0069)
    """
    return _measure("rnc1", features, labels, num_classes, rnc1_norm=norm)


def nc1(
    features: Tensor,
    labels: Tensor,
    *,
    num_classes: int | None = None,
    pinv_rtol: float = PINV_RTOL,
) -> Tensor:
    """NC1 = (1/C) tr(Σ_W Σ_B⁺) (Papyan, Han & Donoho 2020).

    Σ_W = (1/N) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ, Σ_B = (1/C) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ.
    Σ_B⁺ is the pseudo-inverse by a symmetric eigendecomposition: eigenvalues at or below
    ``pinv_rtol`` × the largest are dropped (Σ_B has rank ≤ C − 1 for balanced classes). It is
    computed on the C×C matrix M̃M̃ᵀ, so no d×d eigenproblem is solved; Σ_W needs d² memory.
    Rotation- and offset-invariant; range [0, ∞); 0 at exact collapse.

    Args:
        features: (N, d) floating, N ≥ 2, finite.
        labels: (N,) integer classes in [0, C).
        num_classes: C; None takes labels.max() + 1.
        pinv_rtol: relative eigenvalue cutoff of the pseudo-inverse [ours].

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> round(float(nc1(h, torch.tensor([0, 0, 1, 1]))), 6)  # (1/2)·(1/25)
        0.02
    """
    return _measure("nc1", features, labels, num_classes, pinv_rtol=pinv_rtol)


def nc1_trace(features: Tensor, labels: Tensor, *, num_classes: int | None = None) -> Tensor:
    """NC1_trace = V_W / V_B, the trace ratio (the authors' code's ``nc1_score``).

    Range [0, ∞); 0 at exact collapse. Arguments as in ``within_class_variance``.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> float(nc1_trace(h, torch.tensor([0, 0, 1, 1])))
        0.04
    """
    return _measure("nc1_trace", features, labels, num_classes)


def nc2_equinorm(features: Tensor, labels: Tensor, *, num_classes: int | None = None) -> Tensor:
    """NC2 equinorm = std_c ‖μ_c − μ_G‖ / mean_c ‖μ_c − μ_G‖ (coefficient of variation).

    The std has ddof = 1, as ``torch.std`` in Papyan et al.'s code. Range [0, ∞); 0 at a
    simplex ETF (all centred class means equally long).

    Example:
        >>> etf = torch.eye(3) - 1 / 3  # rows: a simplex ETF centred at 0
        >>> y = torch.tensor([0, 1, 2, 0, 1, 2])
        >>> float(nc2_equinorm(etf[y], y)) < 1e-12
        True
    """
    return _measure("nc2_equinorm", features, labels, num_classes)


def nc2_equiangularity(
    features: Tensor, labels: Tensor, *, num_classes: int | None = None
) -> Tensor:
    """NC2 equiangularity = mean_{c≠c'} |cos(μ_c − μ_G, μ_c' − μ_G) + 1/(C − 1)|.

    Range [0, C/(C − 1)]; 0 at a simplex ETF (every pairwise cosine −1/(C − 1)).

    Example:
        >>> etf = torch.eye(4) - 1 / 4
        >>> y = torch.arange(4).repeat(2)
        >>> float(nc2_equiangularity(etf[y], y)) < 1e-12
        True
    """
    return _measure("nc2_equiangularity", features, labels, num_classes)


def nc2_etf_error(features: Tensor, labels: Tensor, *, num_classes: int | None = None) -> Tensor:
    """NC2 ETF error = ‖ M̃M̃ᵀ/‖M̃M̃ᵀ‖_F − (I − 11ᵀ/C)/√(C − 1) ‖_F, M̃ rows μ_c − μ_G.

    Both matrices have unit Frobenius norm, so the range is [0, 2]; 0 at a simplex ETF (of
    any scale).

    Example:
        >>> etf = torch.eye(3) - 1 / 3
        >>> y = torch.tensor([0, 1, 2, 2, 1, 0])
        >>> float(nc2_etf_error(7 * etf[y], y)) < 1e-12
        True
    """
    return _measure("nc2_etf_error", features, labels, num_classes)


def nc2_cond(features: Tensor, labels: Tensor, *, num_classes: int | None = None) -> Tensor:
    """NC2_cond = σ_max(M)/σ_min(M) of the **uncentred** class means M = [μ_1; …; μ_C].

    As in Sakamoto & Sato's code; σ over the min(C, d) singular values. Range [1, ∞]
    (inf when M is rank-deficient); 1 when the class means are orthogonal and equally long.
    Not offset-invariant: the centred simplex ETF has rank C − 1, so cond = inf there.

    Example:
        >>> y = torch.tensor([0, 1, 2, 0])
        >>> means = torch.diag(torch.tensor([4.0, 2.0, 1.0]))  # singular values 4, 2, 1
        >>> float(nc2_cond(means[y], y))
        4.0
    """
    return _measure("nc2_cond", features, labels, num_classes)


def nc3(
    features: Tensor, labels: Tensor, weight: Tensor, *, num_classes: int | None = None
) -> Tensor:
    """NC3 self-duality = ‖ W/‖W‖_F − M̃/‖M̃‖_F ‖_F², M̃ rows μ_c − μ_G.

    Range [0, 4]; 0 when the head is proportional to the centred class means (W ∝ M̃).

    Args:
        features: (N, d) floating, N ≥ 2, finite.
        labels: (N,) integer classes in [0, C).
        weight: (C, d) classifier weight, row c for class c.
        num_classes: C; None takes labels.max() + 1.

    Example:
        >>> etf = torch.eye(3) - 1 / 3
        >>> y = torch.tensor([0, 1, 2])
        >>> float(nc3(etf[y], y, 0.5 * etf)) < 1e-12
        True
    """
    stats = _one_shot(features, labels, num_classes)
    return _collapse_compute(stats, measures=("nc3",), weight=weight)["nc3"]


def nc4(
    features: Tensor,
    labels: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    num_classes: int | None = None,
) -> Tensor:
    """NC4 = fraction of samples whose head prediction argmax_c (Wh + b)_c differs from the
    nearest class mean argmin_c ‖h − μ_c‖.

    The class means come from the same ``features`` (two steps in one call). Labels only
    define the means. Range [0, 1]; 0 at exact collapse with W ∝ M̃ and equal biases.

    Args:
        features: (N, d) floating, N ≥ 2, finite.
        labels: (N,) integer classes in [0, C).
        weight: (C, d) classifier weight.
        bias: (C,) classifier bias, or None for a head without bias.
        num_classes: C; None takes labels.max() + 1.

    Example:
        >>> etf = torch.eye(3) - 1 / 3
        >>> y = torch.tensor([0, 1, 2, 0])
        >>> float(nc4(etf[y], y, etf)), float(nc4(etf[y], y, -etf))
        (0.0, 1.0)
    """
    stats = _one_shot(features, labels, num_classes)
    c, d = stats.sums.shape
    w = _check_weight(weight, c, d)
    b = _check_bias(bias, c)
    return _nc4_mismatches(features, w, b, _class_means(stats)) / stats.counts.sum()


def cdnv(features: Tensor, labels: Tensor, *, num_classes: int | None = None) -> Tensor:
    """Class-distance normalised variance, mean_{c≠c'} (Var_c + Var_c') / (2‖μ_c − μ_c'‖²).

    Var_c = (1/N_c) Σ_{i∈c} ‖h_i − μ_c‖² (Galanti et al. 2022). Range [0, ∞] (inf if two
    class means coincide); 0 at exact collapse.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> float(cdnv(h, torch.tensor([0, 0, 1, 1])))  # (1 + 1) / (2 · 10²)
        0.01
    """
    return _measure("cdnv", features, labels, num_classes)


def margins(
    features: Tensor, weight: Tensor, bias: Tensor | None, class_a: int, class_b: int
) -> Tensor:
    """Signed distance of each feature to the a-vs-b decision boundary of the head.

        m_i = (⟨w_a − w_b, h_i⟩ + b_a − b_b) / ‖w_a − w_b‖₂

    Positive on class a's side (Sakamoto & Sato's Fig. 2; note the bias order b_a − b_b).

    Args:
        features: (N, d) floating, finite.
        weight: (C, d) classifier weight.
        bias: (C,) classifier bias, or None (taken as 0).
        class_a: index of the class on the positive side.
        class_b: index of the other class, ≠ class_a.

    Returns:
        (N,) float64 signed distances, in the features' units.

    Example:
        >>> w = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
        >>> margins(torch.tensor([[3.0, 5.0]]), w, torch.tensor([1.0, -1.0]), 0, 1)
        tensor([4.], dtype=torch.float64)
    """
    x = check_matrix("features", features, min_rows=1).detach().to(torch.float64)
    num_classes = check_matrix("weight", weight, min_rows=2).shape[0]
    w = _check_weight(weight, num_classes, x.shape[1]).detach().to(x)
    b = _check_bias(bias, num_classes)
    for name, index in (("class_a", class_a), ("class_b", class_b)):
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"{name} must be an int class index, got {index!r}")
        if not 0 <= index < num_classes:
            raise ValueError(f"{name}={index} is outside [0, {num_classes - 1}]")
    if class_a == class_b:
        raise ValueError(f"class_a and class_b are both {class_a}; pick two different classes")
    direction = w[class_a] - w[class_b]
    length = torch.linalg.vector_norm(direction)
    if float(length) == 0.0:
        raise ValueError(f"rows {class_a} and {class_b} of weight are equal: no boundary")
    offset = 0.0 if b is None else float(b[class_a]) - float(b[class_b])
    return (x @ direction + offset) / length
