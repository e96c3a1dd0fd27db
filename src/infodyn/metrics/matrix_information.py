"""Streaming MIR/HDR between features and the classifier head (Song et al. 2024)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from infodyn._validation import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_same_device,
)
from infodyn.functional._class_head import class_head_information
from infodyn.functional.matrix_info import head_rows, matrix_information

_KEYS = ("mir", "hdr", "entropy_features", "entropy_head", "mutual_information")
_MODES = ("batch_mean", "pooled")


class MatrixInformation(Metric):
    """MIR, HDR, the two matrix entropies and their mutual information over an evaluation pass.

    Each ``update`` pairs every sample with the head vector of its label,
    W_y = ``head_rows(head_weight, labels)``, and the values come from
    ``infodyn.functional.matrix_information`` (formulas there; entropies in nats,
    MIR and HDR in [0, 1]) — in ``batch_mean`` mode with the head's spectrum taken from the
    C×C matrix D^½ĜD^½/n of the class vectors (equal to round-off; see
    ``infodyn.functional._class_head``). Two modes, infodyn's choice — both are per-batch
    quantities at heart, because the normalised Gram of n samples has no sufficient statistic
    smaller than the samples themselves:

    * ``"batch_mean"`` (default): the five values are computed on each batch and **averaged
      over batches** (unweighted). This is what the paper does: it computes MIR/HDR on
      mini-batches. Memory is five sums and a count; across DDP ranks the sums add. The result
      depends on the batch size (a matrix entropy is at most log n), so compare runs measured
      with the same batch size.
    * ``"pooled"``: the first ``max_samples`` rows seen (features and head rows) are kept, and
      one value is computed on that **whole set** at ``compute``. Use it with a fixed
      evaluation subset; memory is ``max_samples`` rows, the cap is applied again after
      gathering across ranks (rank 0's rows come first).

    Args:
        mode: ``"batch_mean"`` or ``"pooled"``, see above.
        max_samples: rows kept in ``"pooled"`` mode (default 2048); ignored otherwise.
        dtype: working precision of the eigenvalue problems (default float64).
        kwargs: passed to ``torchmetrics.Metric`` (e.g. ``dist_sync_on_step``).

    Example:
        >>> metric = MatrixInformation()
        >>> etf = torch.eye(4) - 0.25  # a simplex-ETF head, C = 4
        >>> labels = torch.arange(8) % 4
        >>> metric.update(2.0 * etf[labels], etf, labels)  # features collapsed onto the head
        >>> values = metric.compute()
        >>> round(float(values["mir"]), 4), round(float(values["hdr"]), 4)
        (0.754, 0.0)
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("features", "head_weight", "labels")

    sum_mir: Tensor
    sum_hdr: Tensor
    sum_entropy_features: Tensor
    sum_entropy_head: Tensor
    sum_mutual_information: Tensor
    num_batches: Tensor
    pooled_features: list[Tensor] | Tensor
    pooled_head: list[Tensor] | Tensor

    def __init__(
        self,
        *,
        mode: Literal["batch_mean", "pooled"] = "batch_mean",
        max_samples: int = 2048,
        dtype: torch.dtype = torch.float64,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_choice("mode", mode, _MODES)
        max_samples = check_int("max_samples", max_samples, minimum=2)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.mode = mode
        self.max_samples = max_samples
        self.working_dtype = dtype
        if mode == "batch_mean":
            for key in _KEYS:
                self.add_state(f"sum_{key}", torch.zeros((), dtype=torch.float64), "sum")
            self.add_state("num_batches", torch.zeros((), dtype=torch.long), "sum")
        else:
            self.add_state("pooled_features", [], "cat")
            self.add_state("pooled_head", [], "cat")

    def update(self, features: Tensor, head_weight: Tensor, labels: Tensor) -> None:
        """Add one batch: ``features`` (n, d), ``head_weight`` (C, d_h), ``labels`` (n,)."""
        check_same_device(features=features, head_weight=head_weight, labels=labels)
        z = check_matrix("features", features).detach()
        w = check_matrix("head_weight", head_weight, min_rows=1).detach()
        y = check_labels("labels", labels, n=z.shape[0], num_classes=w.shape[0])
        if self.mode == "batch_mean":
            if z.device.type == "cpu":
                # matrix_information(z, head_rows(w, y)) less the checks made above, with the
                # head's spectrum from a C×C matrix (values equal to round-off); its few
                # hundred eigenvalues are summed as Python floats.
                values: Sequence[float | Tensor] = class_head_information(
                    z, w, y, dtype=self.working_dtype
                )
            else:  # on an accelerator the values stay there: no host read per batch
                with torch.no_grad():
                    values = matrix_information(z, head_rows(w, y), dtype=self.working_dtype)
            # In place: a state is never the registered default (reset() installs a copy).
            for key, value in zip(_KEYS, values, strict=True):
                state = getattr(self, f"sum_{key}")
                state.add_(value.to(state) if isinstance(value, Tensor) else value)
            self.num_batches.add_(1)
            return
        head = head_rows(w, y)
        assert isinstance(self.pooled_features, list)  # a tensor only after a sync
        assert isinstance(self.pooled_head, list)
        kept = sum(x.shape[0] for x in self.pooled_features)
        if self.pooled_features and self.pooled_features[0].shape[1] != z.shape[1]:
            raise ValueError(
                f"features has {z.shape[1]} columns but earlier updates had "
                f"{self.pooled_features[0].shape[1]}; pooled mode needs one feature layer"
            )
        room = self.max_samples - kept
        if room > 0:
            self.pooled_features.append(z[:room].clone())  # a slice would pin the batch
            self.pooled_head.append(head[:room].clone())

    def compute(self) -> dict[str, Tensor]:
        """The five values: ``mir``, ``hdr``, ``entropy_features``, ``entropy_head``,
        ``mutual_information`` (0-d tensors; batch means or one pooled value)."""
        if self.mode == "batch_mean":
            if int(self.num_batches) == 0:
                raise RuntimeError(_NO_DATA)
            return {key: getattr(self, f"sum_{key}") / self.num_batches for key in _KEYS}
        if isinstance(self.pooled_features, list) and not self.pooled_features:
            raise RuntimeError(_NO_DATA)
        features = dim_zero_cat(self.pooled_features)[: self.max_samples]
        head = dim_zero_cat(self.pooled_head)[: self.max_samples]
        with torch.no_grad():
            result = matrix_information(features, head, dtype=self.working_dtype)
        return dict(zip(_KEYS, result, strict=True))


_NO_DATA = (
    "MatrixInformation.compute() was called before update(): no batch has been seen; "
    "call update(features, head_weight, labels) at least once after reset()"
)
