"""Batches of a layer stack that wait to be binarised and counted together (LayerTransferEntropy).

Streaming TE over a layer stack binarises every batch at its own percentile threshold and
adds its transitions to each adjacent pair's counts. Per batch that is a few dozen small
tensor operations per layer and pair, which cost more than the counting itself when batches
are small and the model step is short. :class:`WaitingLayers` keeps the layer values of up to
``limit`` samples (one float copy per batch) and then binarises them in one pass per layer —
each batch still at its own threshold, bit for bit (:func:`binarize_batches`) — so that each
pair takes all of them in one ``update``. The counts are integers, so the values are those of
batch-by-batch feeding, exactly.

A waiting batch continues the pairs' streams from the tails they had when it arrived
(:attr:`WaitingLayers.base_tails`). Whoever changes a pair's tail in the meantime — a new trial
that drops it, a checkpoint that loads one — acts after the waiting batches, so they are fed on
the tails they continue, and the changed tails are put back afterwards (:func:`feed_waiting`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from infodyn.functional.binarize import Scope, binarize_batches
from infodyn.metrics.transfer_entropy import TransferEntropy

__all__ = ["WaitingLayers", "feed_waiting", "tails_moved"]

Tails = tuple[Tensor | None, Tensor | None]


def _tails(pairs: Sequence[TransferEntropy]) -> list[Tails]:
    return [(pair._tail_source, pair._tail_target) for pair in pairs]


def _widths(pairs: Sequence[TransferEntropy]) -> tuple[int, ...]:
    """Neurons of each layer of the stack, as the pairs' marginals hold them (0: unsized)."""
    return (pairs[0].source.shape[0], *(pair.past.shape[0] for pair in pairs))


class WaitingLayers:
    """Layer values (samples, Σ neurons) of the batches not yet binarised, in arrival order.

    Args:
        limit: samples kept before :meth:`full` says to feed them (the memory knob).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batches: list[Tensor] = []
        self.rows = 0
        self.widths: tuple[int, ...] = ()
        self.base_tails: list[Tails] = []

    def __bool__(self) -> bool:
        return bool(self.batches)

    def copy_if_it_can_wait(
        self, values: Sequence[Tensor], pairs: Sequence[TransferEntropy]
    ) -> Tensor | None:
        """One (n, Σ neurons) copy of a batch's layer values, or None if it must be fed now.

        A batch waits only when nothing about it could raise or change the rule: every pair
        already continues a stream (a first batch sizes the pairs and checks their widths),
        the layers are (n, width) of one floating dtype with the widths the pairs hold, and
        every value is finite. Otherwise the per-batch path gives its errors and messages.
        """
        if self.limit <= 1 or any(tail is None for tails in _tails(pairs) for tail in tails):
            return None
        first = values[0]
        if any(
            v.ndim != 2 or v.shape[0] != first.shape[0] or v.dtype != first.dtype for v in values
        ):
            return None
        if not first.is_floating_point() or tuple(v.shape[1] for v in values) != _widths(pairs):
            return None
        copy = torch.cat([v.detach() for v in values], dim=1)  # our own memory, one pass
        if not math.isfinite(float(copy.sum())):  # NaN and ±Inf reach the sum
            return None
        return copy

    def add(self, copy: Tensor, pairs: Sequence[TransferEntropy]) -> None:
        """Keep a batch's copy; the first one records the tails the batches continue."""
        if not self.batches:
            self.base_tails, self.widths = _tails(pairs), _widths(pairs)
        self.batches.append(copy)
        self.rows += copy.shape[0]

    def full(self) -> bool:
        return self.rows >= self.limit

    def clear(self) -> None:
        self.batches, self.rows, self.base_tails = [], 0, []


def tails_moved(waiting: WaitingLayers, pairs: Sequence[TransferEntropy]) -> bool:
    """Whether some pair's tail changed since the first waiting batch arrived (e.g. a new
    trial dropped it): the waiting batches must then be fed before the next one."""
    return any(
        now[0] is not base[0] or now[1] is not base[1]
        for now, base in zip(_tails(pairs), waiting.base_tails, strict=True)
    )


def _binarised(waiting: WaitingLayers, q: float, scope: Scope) -> list[Tensor]:
    """Each layer's bits over the waiting batches, in order: (samples, width) uint8 each."""
    groups: list[list[Tensor]] = []
    for batch in waiting.batches:  # runs of equal batch size stack into one (B, n, Σ) tensor
        if groups and groups[-1][0].shape[0] == batch.shape[0]:
            groups[-1].append(batch)
        else:
            groups.append([batch])
    edges = list(itertools.pairwise(itertools.accumulate(waiting.widths, initial=0)))
    per_layer: list[list[Tensor]] = [[] for _ in edges]
    for group in groups:
        stacked = torch.stack(group)
        for parts, (lo, hi) in zip(per_layer, edges, strict=True):
            bits = binarize_batches(stacked[:, :, lo:hi], q, scope=scope)
            parts.append(bits.reshape(-1, hi - lo))
    return [parts[0] if len(parts) == 1 else torch.cat(parts) for parts in per_layer]


def feed_waiting(
    waiting: WaitingLayers, pairs: Sequence[TransferEntropy], q: float, scope: Scope
) -> None:
    """Binarise the waiting batches and feed each pair all of them at once; then clear them.

    The pairs take them on the tails they continue (:attr:`WaitingLayers.base_tails`); a tail
    changed since then is put back afterwards, as the change came after these batches.
    """
    if not waiting:
        return
    bits = _binarised(waiting, q, scope)
    found = _tails(pairs)
    for pair, (source, target), base, now in zip(
        pairs, itertools.pairwise(bits), waiting.base_tails, found, strict=True
    ):
        pair._tail_source, pair._tail_target = base
        pair.update(source, target)
        if now[0] is not base[0] or now[1] is not base[1]:
            pair._tail_source, pair._tail_target = now
    waiting.clear()
