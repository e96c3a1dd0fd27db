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
    _observation_counts,
    _observations,
    transfer_entropy_from_counts,
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

    With ``buffer_samples`` > 1, batches are counted in groups: ``update`` checks a batch and
    keeps its observations (s, p, f as uint8) until ``buffer_samples`` of them wait, then one
    integer product counts them all — for small batches, the fixed cost of a product and of
    seven state updates per batch would otherwise dominate. Counts of any grouping add up to
    the same integers, so no value depends on it. Waiting observations are counted before
    anything reads the states through the metric: ``compute``, the DDP ``sync`` (before it
    caches the local states) and ``metric_state`` (so ``merge_state`` and
    ``metric_state_dict`` checkpoints hold every count); ``reset()`` drops them with the
    counts. The state attributes themselves (``metric.observations``) lag behind until then;
    the default, 1, counts every batch as it arrives, so they never do.

    Args:
        num_sources: m, neurons of the source layer; None (default) takes it from the first
            batch (and again after each ``reset()``), as every lazily sized infodyn metric.
        num_targets: n, neurons of the target layer; None takes it from the first batch.
        delay: source→target lag u (default 1).
        buffer_samples: speed and memory knob: observations kept (about m + 2n bytes each)
            until they are counted together; 1 (default) counts every batch as it arrives. The
            counts do not depend on it. (:class:`LayerTransferEntropy` gathers its batches
            before they reach its pairs.)
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
        buffer_samples: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_sources = check_int("num_sources", num_sources, minimum=1, allow_none=True)
        self.num_targets = check_int("num_targets", num_targets, minimum=1, allow_none=True)
        self.delay = check_int("delay", delay, minimum=0)
        self.buffer_samples = check_int("buffer_samples", buffer_samples, minimum=1)
        widths = {"m": self.num_sources, "n": self.num_targets}
        for name, dims in _COUNT_DIMS.items():
            self.add_lazy_state(name, dims, widths=widths, dtype=torch.long)
        self.add_state("observations", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self._tail_source: Tensor | None = None
        self._tail_target: Tensor | None = None
        # Observations (s, p, f) checked but not yet counted, and how many rows they hold.
        self._pending: list[tuple[Tensor, ...]] = []
        self._pending_rows = 0

    def _check_widths(self, source: Tensor, target: Tensor, known: dict[str, int]) -> None:
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
        # The marginals (m,) and (n,) hold the known widths (given at construction or learnt
        # from the first batch), at a fraction of lazy_widths()'s cost.
        known = {d: int(t.shape[0]) for d, t in (("m", self.source), ("n", self.past)) if t.numel()}
        self._check_widths(source, target, known)
        if source.shape[0] != target.shape[0]:
            raise ValueError(
                f"source has {source.shape[0]} samples but target has {target.shape[0]}; "
                f"pass the same batch of samples for both layers"
            )
        self._follow_device(source.device)
        if len(known) < 2:
            self._size_lazy_states({"m": source.shape[1], "n": target.shape[1]})
        # Views of the caller's tensors are copied before they are kept (the caller may reuse
        # their memory); after a concatenation with the tail the memory is this metric's own.
        tail_source, tail_target = self._tail_source, self._tail_target
        own = tail_source is not None and tail_target is not None
        if tail_source is not None and tail_target is not None:
            source = torch.cat([tail_source.to(source), source])
            target = torch.cat([tail_target.to(target), target])
        keep = max(self.delay, 1)
        if source.shape[0] > keep:
            observations = _observations(source, target, self.delay)  # checks 0/1 values
            rows = observations[0].shape[0]
            if self._pending_rows + rows >= self.buffer_samples:
                self._count([*self._pending, observations])
            else:
                self._pending.append(
                    tuple(v.detach().to(torch.uint8, copy=not own) for v in observations)
                )
                self._pending_rows += rows
        tail_source, tail_target = source[-keep:].detach(), target[-keep:].detach()
        if not own:
            tail_source, tail_target = tail_source.clone(), tail_target.clone()
        self._tail_source, self._tail_target = tail_source, tail_target

    def _count(self, parts: list[tuple[Tensor, ...]]) -> None:
        """Add the counts of observation groups (s, p, f) to the states, in one product."""
        groups = zip(*parts, strict=True)
        s, p, f = (group[0] if len(parts) == 1 else torch.cat(group) for group in groups)
        self._pending, self._pending_rows = [], 0
        for name, value in zip(_COUNT_FIELDS, _observation_counts(s, p, f), strict=True):
            state = getattr(self, name)
            setattr(self, name, state + value.to(state.device))

    def _count_pending(self) -> None:
        """Count the waiting observations into the states."""
        if self._pending:
            self._count(self._pending)

    @property
    def metric_state(self) -> dict[str, Tensor | list[Tensor]]:
        """The states, waiting observations counted first (``merge_state``, checkpoints)."""
        self._count_pending()
        return super().metric_state

    def sync(self, *args: Any, **kwargs: Any) -> None:
        """Count the waiting observations, then sync as ``torchmetrics.Metric.sync``.

        Before the sync, not in ``_sync_dist``: ``sync`` caches the local states (restored by
        ``unsync``) before it reduces them, and the cache must hold every count.
        """
        self._count_pending()
        super().sync(*args, **kwargs)

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
        """Clear the counts, the waiting observations and the stream's tail (a new series,
        e.g. a new epoch)."""
        super().reset()
        self._pending, self._pending_rows = [], 0
        self._tail_source = self._tail_target = None

    def compute(self) -> dict[str, Tensor]:
        """``te`` (m, n) in bits, and its ``te_mean``, ``te_max``, ``te_sum`` over pairs."""
        self._count_pending()
        if int(self.observations) == 0:
            raise RuntimeError(
                f"{type(self).__name__}.compute() needs at least one transition: update() with "
                f"a series of at least 2 samples (in one or several batches) first"
            )
        counts = TransitionCounts(*(getattr(self, name) for name in _COUNT_FIELDS))
        te = transfer_entropy_from_counts(counts)
        return {"te": te, "te_mean": te.mean(), "te_max": te.max(), "te_sum": te.sum()}
