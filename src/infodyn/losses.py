"""Matrix-information regularisers for training (Song et al. 2024, arXiv 2406.03999, §6)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from infodyn._validation import check_choice, check_labels, check_matrix, check_tensor
from infodyn.functional._chunking import check_chunk_size
from infodyn.functional.matrix_info import hdr, head_rows, matrix_information

__all__ = ["MatrixInformationLoss"]

_DETACH = ("none", "features", "head")


class MatrixInformationLoss(nn.Module):
    """The MIR/HDR regulariser −λ_mir·MIR(Z, W_y) + λ_hdr·HDR(Z, W_y), to add to a task loss.

    Z are the batch's features, W_y = ``head_rows(head_weight, labels)`` pairs each sample with
    the head vector of its label (in semi-supervised use, of its confident pseudo-label).
    Raising MIR and lowering HDR pulls features and head toward the aligned, collapsed
    geometry; the paper adds both terms to cross-entropy. MIR and HDR are in [0, 1], so the
    term lies in [−λ_mir, λ_hdr]. See ``infodyn.functional.matrix_information`` for formulas.

    Gradients flow into both the features and the head by default, infodyn's choice, because
    the paper's text adds the terms to the loss without stopping any gradient (its authors'
    code could not be found to check). ``detach`` stops one side.

    Args:
        lambda_mir: weight of −MIR, ≥ 0.
        lambda_hdr: weight of +HDR, ≥ 0.
        detach: ``"none"`` (default), ``"features"`` (no gradient into the features: only
            the head moves) or ``"head"`` (no gradient into the head weight).
        dtype: working precision of the eigenvalue problems (default float64); the loss is
            returned in the dtype of ``features``.
        chunk_size: rows processed at a time (memory knob), see ``matrix_entropy``.

    Example:
        >>> import torch.nn.functional as F
        >>> _ = torch.manual_seed(0)
        >>> head = nn.Linear(8, 3)
        >>> features = torch.randn(12, 8, requires_grad=True)
        >>> labels = torch.arange(12) % 3
        >>> regulariser = MatrixInformationLoss(lambda_mir=0.1, lambda_hdr=0.1)
        >>> loss = F.cross_entropy(head(features), labels) + regulariser(
        ...     features, head.weight, labels
        ... )
        >>> loss.backward()
        >>> features.grad.shape, head.weight.grad.shape
        (torch.Size([12, 8]), torch.Size([3, 8]))
    """

    def __init__(
        self,
        lambda_mir: float = 0.0,
        lambda_hdr: float = 0.0,
        *,
        detach: Literal["none", "features", "head"] = "none",
        dtype: torch.dtype = torch.float64,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("lambda_mir", lambda_mir), ("lambda_hdr", lambda_hdr)):
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{name} must be a finite number >= 0, got {value!r}; the sign is built in "
                    f"(MIR is rewarded, HDR penalised), so pass the magnitude"
                )
        check_choice("detach", detach, _DETACH)
        self.lambda_mir = float(lambda_mir)
        self.lambda_hdr = float(lambda_hdr)
        self.detach = detach
        self.dtype = dtype
        self.chunk_size = check_chunk_size(chunk_size)

    def forward(self, features: Tensor, head_weight: Tensor, labels: Tensor) -> Tensor:
        """Regulariser for ``features`` (n, d), ``head_weight`` (C, d_h), ``labels`` (n,).

        Returns a 0-d tensor in ``features.dtype``; exactly 0 (no eigenvalue problem solved)
        when both weights are 0. Raises ``ValueError`` on a batch whose labels are all equal
        (MIR undefined): skip the term for such a batch.
        """
        if self.lambda_mir == 0 and self.lambda_hdr == 0:
            return check_tensor("features", features).new_zeros(())
        z = check_matrix("features", features)
        w = check_matrix("head_weight", head_weight, min_rows=1)
        z = z.detach() if self.detach == "features" else z
        w = w.detach() if self.detach == "head" else w
        check_labels("labels", labels, n=z.shape[0], num_classes=w.shape[0])
        head = head_rows(w, labels)
        if self.lambda_mir == 0:
            # HDR needs only the two entropies, not the joint eigenvalue problem.
            value = hdr(z, head, dtype=self.dtype, chunk_size=self.chunk_size)
            return (self.lambda_hdr * value).to(z.dtype)
        result = matrix_information(z, head, dtype=self.dtype, chunk_size=self.chunk_size)
        return (-self.lambda_mir * result.mir + self.lambda_hdr * result.hdr).to(z.dtype)

    def extra_repr(self) -> str:
        return f"lambda_mir={self.lambda_mir}, lambda_hdr={self.lambda_hdr}, detach={self.detach!r}"
