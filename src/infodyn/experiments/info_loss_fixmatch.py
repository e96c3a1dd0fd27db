"""The pieces of a FixMatch step (Sohn et al. 2020) and the matrix-information term on it.

FixMatch trains on a labeled batch with cross-entropy and on an unlabeled batch with
*consistency*: each unlabeled sample's weak view is classified, and where the prediction is
confident (max softmax probability ≥ τ, τ = 0.95) its argmax becomes the pseudo-label that the
strong view is trained to predict:

    L = CE(labeled) + λ_u · (1/μB) Σ_i 1[max p_weak,i ≥ τ] · CE(p_strong,i, argmax p_weak,i)

The mean is over all μB unlabeled samples, not only the confident ones (FixMatch's Eq. 4), so
the term grows as more samples pass the threshold. Pseudo-labels are computed without gradient.

Song et al. (2024, §6) add −λ_mi·MIR + λ_id·HDR on the unlabeled batch, each sample paired with
the head row of its pseudo-label; infodyn applies it to the confident samples only (an
unconfident pseudo-label is what FixMatch itself ignores), on the features of their strong
views (the views the consistency loss trains) **[ours]**. MIR needs at least two distinct
labels; a batch with fewer confident classes skips the term (:func:`info_term` says so). The
supervised arm applies the same function to the labeled batch with its true labels.

MIR is also undefined when the features of the kept rows are all parallel (a rank-one Gram).
This is not hypothetical: on post-ReLU features, raising the feature entropy H_Z toward the
head's means making non-negative rows orthogonal, i.e. sparse, and with λ = 0.3 the term
switched off all but a few units of the feature layer within ~35 steps (supervised, digits,
seed 3 with 4 labels per class; seed 2 with 10), leaving every row of the batch parallel. The
term is then skipped for the batch (``collapsed`` is True, the run records the share of such
steps as ``info_collapsed``) and training goes on with the other losses: in the case above
cross-entropy spread the features again and the run ended at 76% test accuracy. A collapse
that persists shows in the accuracy instead of stopping the run.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from infodyn.functional.matrix_info import matrix_entropy
from infodyn.losses import MatrixInformationLoss

__all__ = [
    "InfoTerm",
    "PseudoLabels",
    "confidence_mask",
    "info_term",
    "pseudo_labels",
    "unlabeled_loss",
]


class PseudoLabels(NamedTuple):
    """What the weak views say: ``labels`` (n,), ``mask`` (n,) bool, ``confidence`` (n,)."""

    labels: Tensor
    mask: Tensor
    confidence: Tensor


def confidence_mask(probabilities: Tensor, threshold: float) -> tuple[Tensor, Tensor, Tensor]:
    """Max probability, its class, and whether it reaches ``threshold`` (≥, as FixMatch).

    Args:
        probabilities: (n, C) rows of class probabilities.
        threshold: τ in (0, 1].

    Returns:
        ``(confidence, labels, mask)``, each (n,).

    Example:
        >>> p = torch.tensor([[0.95, 0.05], [0.2, 0.8], [0.01, 0.99]])
        >>> confidence_mask(p, 0.95)[2].tolist()
        [True, False, True]
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}; FixMatch uses 0.95")
    confidence, labels = probabilities.max(dim=1)
    return confidence, labels, confidence >= threshold


def pseudo_labels(weak_logits: Tensor, threshold: float) -> PseudoLabels:
    """Pseudo-labels from the weak views' logits: softmax, argmax, confidence ≥ ``threshold``.

    Computed from detached logits: no gradient flows through a pseudo-label.

    Example:
        >>> out = pseudo_labels(torch.tensor([[4.0, 0.0], [0.0, 0.5]]), 0.95)
        >>> out.labels.tolist(), out.mask.tolist()
        ([0, 1], [True, False])
    """
    probabilities = torch.softmax(weak_logits.detach().float(), dim=1)
    confidence, labels, mask = confidence_mask(probabilities, threshold)
    return PseudoLabels(labels, mask, confidence)


def unlabeled_loss(strong_logits: Tensor, pseudo: PseudoLabels) -> Tensor:
    """FixMatch's consistency loss: (1/n) Σ_i mask_i · CE(strong_i, label_i), in nats.

    Example:
        >>> pseudo = PseudoLabels(torch.tensor([0, 1]), torch.tensor([True, False]),
        ...                       torch.tensor([0.99, 0.6]))
        >>> logits = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
        >>> round(float(unlabeled_loss(logits, pseudo)), 4)  # log 2 / 2: one of two counts
        0.3466
    """
    per_sample = F.cross_entropy(strong_logits, pseudo.labels, reduction="none")
    return (per_sample * pseudo.mask.to(per_sample.dtype)).mean()


class InfoTerm(NamedTuple):
    """The term of one batch: ``value`` (0-d), whether it was ``applied``, and whether it was
    skipped because the kept features had ``collapsed`` to one direction."""

    value: Tensor
    applied: bool
    collapsed: bool = False


def _rank_one(features: Tensor, dtype: torch.dtype) -> bool:
    """Whether the rows of ``features`` are (numerically) all parallel: H(K_Z) ≈ 0.

    The margin is 10× the threshold at which ``matrix_information`` refuses a rank-one Gram
    (sqrt(eps) nats), so a batch this check lets through is never refused there.
    """
    with torch.no_grad():
        entropy = float(matrix_entropy(features.detach(), dtype=dtype))
    return entropy <= 10 * math.sqrt(torch.finfo(dtype).eps)


def info_term(
    regulariser: MatrixInformationLoss,
    features: Tensor,
    head_weight: Tensor,
    labels: Tensor,
    mask: Tensor | None = None,
) -> InfoTerm:
    """−λ_mir·MIR + λ_hdr·HDR on the rows ``mask`` keeps, each paired with its label's head row.

    Args:
        regulariser: The weighted MIR/HDR term.
        features: (n, d) features (in FixMatch, of the strong views).
        head_weight: (C, d) classifier head.
        labels: (n,) labels or pseudo-labels.
        mask: (n,) bool, the rows to use (FixMatch: the confident ones); None uses all.

    Returns:
        ``InfoTerm(value, applied, collapsed)``: the 0-d term, and ``applied`` False when it
        was skipped — both weights 0, fewer than two rows with two distinct labels, or (with
        λ_mir > 0) kept features all parallel, where MIR is undefined; ``collapsed`` is True
        in the last case, which warns once. A skipped term is 0. Rows whose features are all
        zero (every ReLU of the sample off) are left out: they have no direction to normalise.

    Example:
        >>> reg = MatrixInformationLoss(lambda_mir=1.0)
        >>> z, w = torch.eye(4), torch.eye(4)
        >>> term, applied, _ = info_term(reg, z, w, torch.tensor([0, 1, 2, 2]),
        ...                           torch.tensor([True, True, False, False]))
        >>> applied, round(float(term), 4)  # two orthogonal rows, one per class: MIR = 1
        (True, -1.0)
        >>> same_label = torch.tensor([0, 0, 1, 1])
        >>> info_term(reg, z, w, same_label, torch.tensor([True, True, False, False])).applied
        False
    """
    skipped = InfoTerm(features.new_zeros(()), False)
    if regulariser.lambda_mir == 0 and regulariser.lambda_hdr == 0:
        return skipped
    keep = features.detach().abs().amax(dim=1) > 0
    if mask is not None:
        keep = keep & mask
    kept = labels[keep]
    if kept.numel() < 2 or int(kept.unique().numel()) < 2:
        return skipped
    rows = features[keep]
    # HDR alone is defined for a rank-one feature Gram (it is then 1); MIR is 0/0.
    if regulariser.lambda_mir > 0 and _rank_one(rows, regulariser.dtype):
        warnings.warn(
            "the MIR/HDR term is skipped: the features of the batch are all parallel (the "
            "feature layer collapsed to one direction, typically all but one ReLU unit dead), "
            "so MIR is undefined; the run goes on with the other losses and records the share "
            "of such steps as info_collapsed. A smaller lambda_mir/lambda_hdr or lr avoids it",
            RuntimeWarning,
            stacklevel=2,
        )
        return skipped._replace(collapsed=True)
    return InfoTerm(regulariser(rows, head_weight, kept), True)
