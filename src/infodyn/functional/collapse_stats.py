"""Sufficient statistics of neural collapse and the measures computed from them.

The streaming core behind :mod:`infodyn.functional.collapse` and
:class:`infodyn.metrics.NeuralCollapse`: ``_collapse_update`` turns a batch into
``CollapseStats`` (per-class counts, sums of h − r, squared-norm sums, norm sums, the largest
norm and, for NC1 only, the pooled second moment), ``_merge`` adds two of them (re-expressing one
around the other's reference r exactly), and ``_collapse_compute`` evaluates any subset of the
measures. Formulas, ranges and collapse values are documented on the public functions in
:mod:`infodyn.functional.collapse`; the numerical-stability argument is in that module's notes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from infodyn._validation import (
    check_choice,
    check_finite,
    check_int,
    check_labels,
    check_matrix,
    check_same_rows,
    check_tensor,
)
from infodyn.functional._gram import upper_gram

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
#: Eigenvalues of Σ_B at or below this fraction of the largest are treated as 0 in Σ_B⁺.
#: infodyn's choice — Papyan, Han & Donoho (2020) write Σ_B⁺ without a cutoff — because Σ_B
#: has rank ≤ C − 1 in exact arithmetic (≤ C for unbalanced classes) and its null eigenvalue
#: comes out at ~C·eps·λ_max in float64: 1e-10 separates the two with margin.
PINV_RTOL = 1e-10

RNC1Norm = Literal["mean", "max"]
#: The scales RNC1 may divide by: the mean feature norm (authors' code) or the largest (paper).
RNC1_NORMS: tuple[RNC1Norm, ...] = ("mean", "max")


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
    num_classes = check_int("num_classes", num_classes)
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
    product_dtype: torch.dtype = torch.float64,
    checked: bool = False,
) -> CollapseStats:
    """Statistics of one batch: ``features`` (n, d), ``labels`` (n,) in [0, num_classes).

    ``reference`` (d,) is the shift r; None takes this batch's mean (best for one-shot use).
    ``product_dtype`` is the dtype the batch's statistics are computed in — the d×d product
    (h − r)ᵀ(h − r) and the O(n·d) sums; they are returned in float64 either way, so batches
    accumulate in float64. float32 halves the cost at a bounded error (see NeuralCollapse).
    ``checked=True`` skips the checks of ``features`` and ``reference`` a caller already made
    (the metric checks every batch's features, and its reference once); labels are checked.
    """
    work = torch.float64 if product_dtype == torch.float64 else product_dtype
    if not checked:
        features = check_matrix("features", features, min_rows=1)
    # One copy of the batch in the working dtype, shifted in place below: the only O(n·d)
    # memory used.
    x = features.detach().to(work, copy=True)
    y = check_labels("labels", labels, n=x.shape[0], num_classes=num_classes).to(x.device)
    norms = torch.linalg.vector_norm(x, dim=1)
    if reference is None:
        r = x.mean(0)
    elif checked:
        r = reference.detach().to(x)
    else:
        r = check_tensor("reference", reference).detach().to(x)
        if r.shape != (x.shape[1],):
            raise ValueError(
                f"reference has shape {tuple(r.shape)} but features have {x.shape[1]} columns"
            )
        check_finite("reference", r)
    shifted = x.sub_(r)
    zeros_c = torch.zeros(num_classes, dtype=work, device=x.device)
    f64 = torch.float64
    return CollapseStats(
        counts=torch.bincount(y, minlength=num_classes).to(f64),
        sums=torch.zeros(num_classes, x.shape[1], dtype=work, device=x.device)
        .index_add_(0, y, shifted)
        .to(f64),
        sq_norm_sums=zeros_c.index_add(0, y, shifted.square().sum(1)).to(f64),
        norm_sums=zeros_c.index_add(0, y, norms).to(f64),
        max_norm=norms.max().to(f64),
        reference=r.to(f64),
        second_moment=_gram(shifted, work) if second_moment else None,
    )


def _gram(shifted: Tensor, dtype: torch.dtype) -> Tensor:
    """(h − r)ᵀ(h − r) in ``dtype``, returned in float64 (:func:`upper_gram`: the upper
    triangle's block rows, mirrored — ~30 % faster here for d ≥ 256, exactly symmetric)."""
    low = shifted if dtype == shifted.dtype else shifted.to(dtype)
    return upper_gram(low).to(torch.float64)


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
    check_choice("rnc1_norm", rnc1_norm, RNC1_NORMS)
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
        sv = torch.linalg.svdvals(_class_means(stats))  # uncentred M, as Sakamoto & Sato's code
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
