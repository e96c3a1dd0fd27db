"""Streaming transfer entropy of one source/target pair: count tables accumulated batch by batch.

The layer-stack metric built on it is :class:`infodyn.metrics.LayerTransferEntropy`
(:mod:`infodyn.metrics.layer_transfer_entropy`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infodyn._validation import check_int, check_same_device
from infodyn.functional.te import (
    TransitionCounts,
    transfer_entropy_from_counts,
    transition_counts,
)
from infodyn.metrics._lazy import LazyWidthMetric

_COUNT_FIELDS = TransitionCounts._fields
# Shapes of the count tables in m (source neurons) and n (target neurons); N is a scalar.
_COUNT_DIMS: dict[str, tuple[str, ...]] = {
    "source_past": ("m", "n"),
    "source_next": ("m", "n"),
    "source_both": ("m", "n"),
    "source": ("m",),
    "past": ("n",),
    "next": ("n",),
    "both": ("n",),
}


class TransferEntropy(LazyWidthMetric):
    """TE(source_i → target_j) in bits for every neuron pair, streamed over batches.

    The time axis is the order in which samples reach :meth:`update`: batches are joined
    end to end, and the transition from the last sample of one batch to the first of the next
    is counted, so streaming over any split of a series equals
    ``infodyn.functional.transfer_entropy`` on the whole series, exactly (integer counts).
    States are the count tables (:class:`~infodyn.functional.te.TransitionCounts`,
    O(m·n) memory, independent of T); across DDP ranks they add. Each rank's stream is then
    one trial: transitions between the last sample of one rank and the first of another are
    not counted, as when PyInform pools several initial conditions.

    ``forward`` only accumulates (it returns None): TE of a single batch is not a useful
    number, and the batch-local reset of TorchMetrics' ``forward`` would cut the stream.

    Args:
        num_sources: m, neurons of the source layer; None (default) takes it from the first
            batch (and again after each ``reset()``), as every lazily sized infodyn metric.
        num_targets: n, neurons of the target layer; None takes it from the first batch.
        delay: source→target lag u (default 1).
        kwargs: passed to ``torchmetrics.Metric``.

    Example:
        >>> metric = TransferEntropy()
        >>> x = torch.tensor([0, 1, 1, 1, 1, 0, 0, 0, 0])[:, None]
        >>> y = torch.tensor([0, 0, 1, 1, 1, 1, 0, 0, 0])[:, None]
        >>> metric.update(x[:4], y[:4]); metric.update(x[4:], y[4:])
        >>> float(metric.compute()["te"])
        0.8112781244591328
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    inputs = ("source", "target")

    source_past: Tensor
    source_next: Tensor
    source_both: Tensor
    source: Tensor
    past: Tensor
    next: Tensor
    both: Tensor
    observations: Tensor

    # The last max(u, 1) samples of the stream: the past of the next batch. Rank-local and
    # not reduced (see the class docstring), but part of a checkpoint.
    _checkpoint_attributes = ("_tail_source", "_tail_target")

    def __init__(
        self,
        num_sources: int | None = None,
        num_targets: int | None = None,
        *,
        delay: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_sources = check_int("num_sources", num_sources, minimum=1, allow_none=True)
        self.num_targets = check_int("num_targets", num_targets, minimum=1, allow_none=True)
        self.delay = check_int("delay", delay, minimum=0)
        widths = {"m": self.num_sources, "n": self.num_targets}
        for name, dims in _COUNT_DIMS.items():
            self.add_lazy_state(name, dims, widths=widths, dtype=torch.long)
        self.add_state("observations", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self._tail_source: Tensor | None = None
        self._tail_target: Tensor | None = None

    def _check_widths(self, source: Tensor, target: Tensor) -> None:
        known = self.lazy_widths()
        for name, x, dim, given in (
            ("source", source, "m", self.num_sources),
            ("target", target, "n", self.num_targets),
        ):
            width = known.get(dim)
            if x.ndim != 2:
                raise ValueError(
                    f"{name} must be 2-D (batch, neurons), got shape {tuple(x.shape)}; for one "
                    f"neuron use {name}.reshape(-1, 1)"
                )
            if width is not None and x.shape[1] != width:
                origin = "as set at construction" if given is not None else "as earlier batches"
                raise ValueError(
                    f"{name} must have shape (batch, {width}) {origin}, got {tuple(x.shape)}; "
                    f"one metric measures one pair of layers — reset() it or use another"
                )

    def update(self, source: Tensor, target: Tensor) -> None:
        """Append a batch of binary states: ``source`` (B, m), ``target`` (B, n), same order."""
        check_same_device(source=source, target=target)
        self._check_widths(source, target)
        if source.shape[0] != target.shape[0]:
            raise ValueError(
                f"source has {source.shape[0]} samples but target has {target.shape[0]}; "
                f"pass the same batch of samples for both layers"
            )
        self._follow_device(source.device)
        self._size_lazy_states({"m": source.shape[1], "n": target.shape[1]})
        if self._tail_source is not None and self._tail_target is not None:
            source = torch.cat([self._tail_source.to(source), source])
            target = torch.cat([self._tail_target.to(target), target])
        keep = max(self.delay, 1)
        if source.shape[0] > keep:
            counts = transition_counts(source, target, delay=self.delay)
            for name, value in zip(_COUNT_FIELDS, counts, strict=True):
                state = getattr(self, name)
                setattr(self, name, state + value.to(state.device))
        self._tail_source = source[-keep:].detach().clone()
        self._tail_target = target[-keep:].detach().clone()

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate like :meth:`update`; returns None (see the class docstring)."""
        self.update(*args, **kwargs)

    def new_series(self) -> None:
        """End the current series: the next batch starts a new one; the counts are kept.

        No transition from the last sample seen to the next batch's first is counted, so the
        counts pool several independent series (trials) — what a DDP reduction does with the
        ranks' streams, and what PyInform does with several initial conditions.

        Example:
            >>> x = torch.tensor([0, 1, 1, 0, 1, 0])[:, None]
            >>> metric = TransferEntropy()
            >>> metric.update(x[:3], x[:3]); metric.new_series(); metric.update(x[3:], x[3:])
            >>> int(metric.observations)  # 2 + 2 transitions: none across the break
            4
        """
        self._tail_source = self._tail_target = None

    def reset(self) -> None:
        """Clear the counts and the stream's tail (a new series, e.g. a new epoch)."""
        super().reset()
        self._tail_source = self._tail_target = None

    def compute(self) -> dict[str, Tensor]:
        """``te`` (m, n) in bits, and its ``te_mean``, ``te_max``, ``te_sum`` over pairs."""
        if int(self.observations) == 0:
            raise RuntimeError(
                f"{type(self).__name__}.compute() needs at least one transition: update() with "
                f"a series of at least 2 samples (in one or several batches) first"
            )
        counts = TransitionCounts(*(getattr(self, name) for name in _COUNT_FIELDS))
        te = transfer_entropy_from_counts(counts)
        return {"te": te, "te_mean": te.mean(), "te_max": te.max(), "te_sum": te.sum()}
