"""Per-sample margins of one class pair over an evaluation pass (Sakamoto & Sato, Fig. 2)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from infodyn._validation import (
    check_int,
    check_matrix,
    check_same_device,
    check_same_rows,
    check_tensor,
)
from infodyn.functional.collapse import margins

__all__ = ["ClassPairMargins"]


class ClassPairMargins(Metric):
    """Signed distances of the samples of classes a and b to the head's a-vs-b boundary.

        m_i = (⟨w_a − w_b, h_i⟩ + b_a − b_b) / ‖w_a − w_b‖₂        (y_i ∈ {a, b})

    ``h_i`` are the penultimate features, ``W``/``b`` the classifier head as the pass used it
    (:func:`infodyn.functional.collapse.margins`; note the bias order b_a − b_b). Positive
    means on class a's side: class-a samples are classified correctly against b when their
    margin is positive, class-b samples when it is negative. Sakamoto & Sato's Fig. 2 draws
    these for training and unseen samples early and late in training: the held-out margins
    spread wide and straddle the boundary at memorisation and concentrate, away from it,
    once the within-class variance has contracted.

    ``update`` keeps the features of the two classes only (O(n_a + n_b) rows). ``compute``
    returns two arrays, in order of arrival — a monitor stores them as array records:

    * ``margins_a``: (n_a,) float64 margins of the class-a samples;
    * ``margins_b``: (n_b,) float64 margins of the class-b samples.

    Args:
        class_a: the class on the positive side, ≥ 0.
        class_b: the other class, ≥ 0, ≠ ``class_a``; both must be rows of the head.
        kwargs: passed to ``torchmetrics.Metric``.

    Example:
        >>> metric = ClassPairMargins(0, 1)
        >>> w, b = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]), torch.zeros(3)
        >>> h = torch.tensor([[3.0, 5.0], [-1.0, 0.0], [9.0, 9.0]])
        >>> metric.update(h, torch.tensor([0, 1, 2]), w, b)  # the class-2 row is ignored
        >>> metric.update(h[:2] * 2, torch.tensor([0, 1]), w, b)
        >>> {k: v.tolist() for k, v in metric.compute().items()}
        {'margins_a': [3.0, 6.0], 'margins_b': [-1.0, -2.0]}
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("features", "labels", "head_weight", "head_bias")

    kept_features: list[Tensor] | Tensor
    kept_labels: list[Tensor] | Tensor

    # The head of the last batch: the same for every batch of one evaluation pass.
    _checkpoint_attributes = ("_head_weight", "_head_bias")

    def __init__(self, class_a: int, class_b: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.class_a = check_int("class_a", class_a, minimum=0, hint="it is a class index")
        self.class_b = check_int("class_b", class_b, minimum=0, hint="it is a class index")
        if self.class_a == self.class_b:
            raise ValueError(
                f"class_a and class_b are both {class_a}; a margin needs two different classes"
            )
        self._head_weight: Tensor | None = None
        self._head_bias: Tensor | None = None
        self.add_state("kept_features", [], "cat")
        self.add_state("kept_labels", [], "cat")

    def update(
        self, features: Tensor, labels: Tensor, head_weight: Tensor, head_bias: Tensor | None
    ) -> None:
        """Keep the class-a and class-b rows of ``features`` (n, d), ``labels`` (n,).

        ``head_weight`` (C, d) and ``head_bias`` (C,) are the head of this pass.
        """
        check_same_device(
            features=features, labels=labels, head_weight=head_weight, head_bias=head_bias
        )
        h = check_matrix("features", features, min_rows=1).detach()
        y = check_tensor("labels", labels).detach()
        if y.ndim != 1 or y.is_floating_point():
            raise ValueError(f"labels must be a 1-D integer tensor, got {y.dtype} {tuple(y.shape)}")
        check_same_rows("features", h, "labels", y)
        w = check_matrix("head_weight", head_weight, min_rows=1).detach()
        if max(self.class_a, self.class_b) >= w.shape[0]:
            raise ValueError(
                f"class pair ({self.class_a}, {self.class_b}) is outside the head's "
                f"{w.shape[0]} classes 0…{w.shape[0] - 1}; pick two classes below {w.shape[0]}"
            )
        self._head_weight = w.clone()
        self._head_bias = None if head_bias is None else head_bias.detach().clone()
        keep = (y == self.class_a) | (y == self.class_b)
        assert isinstance(self.kept_features, list)  # a tensor only after a sync
        assert isinstance(self.kept_labels, list)
        self.kept_features.append(h[keep].clone())
        self.kept_labels.append(y[keep].clone())

    def compute(self) -> dict[str, Tensor]:
        """``{"margins_a": (n_a,), "margins_b": (n_b,)}`` float64; each class needs ≥ 2 samples.

        Two samples, because a one-element array would be stored as a scalar record.
        """
        if self._head_weight is None:
            raise RuntimeError(
                "ClassPairMargins.compute() was called before update(): no batch has been "
                "seen; call update(features, labels, head_weight, head_bias) first"
            )
        h = dim_zero_cat(self.kept_features)
        y = dim_zero_cat(self.kept_labels)
        found = {c: int((y == c).sum()) for c in (self.class_a, self.class_b)}
        short = {c: n for c, n in found.items() if n < 2}
        if short:
            listed = ", ".join(f"class {c}: {n}" for c, n in short.items())
            raise ValueError(
                f"class pair ({self.class_a}, {self.class_b}) has too few samples in this pass "
                f"({listed}); margins need at least 2 samples of each class"
            )
        with torch.no_grad():
            m = margins(h, self._head_weight, self._head_bias, self.class_a, self.class_b)
        return {"margins_a": m[y == self.class_a], "margins_b": m[y == self.class_b]}

    def reset(self) -> None:
        """Clear the kept rows and the remembered head."""
        super().reset()
        self._head_weight = None
        self._head_bias = None
