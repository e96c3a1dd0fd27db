"""Neural-collapse measures from streaming sufficient statistics.

NC1–NC4 as Papyan, Han & Donoho (2020) define them, CDNV as Galanti et al. (2022), and RNC1,
NC1_trace, NC2_cond and the margins as Sakamoto & Sato ("Explaining Grokking and Information
Bottleneck through Neural Collapse Emergence") define and compute them.

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

import torch
from torch import Tensor

from infodyn._validation import check_choice, check_int, check_matrix
from infodyn.functional.collapse_stats import (
    MEASURES,
    PINV_RTOL,
    RNC1_NORMS,
    CollapseStats,
    RNC1Norm,
    _check_bias,
    _check_weight,
    _class_means,
    _collapse_compute,
    _measure,
    _nc4_mismatches,
    _one_shot,
)

__all__ = [
    "MEASURES",
    "PINV_RTOL",
    "CollapseStats",
    "RNC1Norm",
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
        norm: ``"mean"`` (Sakamoto & Sato's code) or ``"max"`` (their paper's B_g). Offering
            both is infodyn's choice, because the paper and its code disagree: record which
            one a value used.
        num_classes: C; None takes labels.max() + 1.

    Example:
        >>> h = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> round(float(rnc1(h, y)), 4), round(float(rnc1(h, y, norm="max")), 4)  # 1/36, 1/144
        (0.0278, 0.0069)
    """
    check_choice("norm", norm, RNC1_NORMS)
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
        pinv_rtol: relative eigenvalue cutoff of the pseudo-inverse (infodyn's choice, see
            ``PINV_RTOL``).

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
        check_int(name, index, minimum=0, maximum=num_classes - 1, hint="it is a class index")
    if class_a == class_b:
        raise ValueError(f"class_a and class_b are both {class_a}; pick two different classes")
    direction = w[class_a] - w[class_b]
    length = torch.linalg.vector_norm(direction)
    if float(length) == 0.0:
        raise ValueError(f"rows {class_a} and {class_b} of weight are equal: no boundary")
    offset = 0.0 if b is None else float(b[class_a]) - float(b[class_b])
    return (x @ direction + offset) / length
