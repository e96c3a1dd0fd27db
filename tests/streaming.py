"""Shared check for stateful metrics: two merged instances against one that saw every batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torchmetrics import Metric


def merged_and_single(
    make: Callable[[], Metric], batches: Sequence[tuple[Any, ...]]
) -> tuple[Metric, Metric]:
    """Feed half the batches to each of two instances and merge them (as DDP reduces states);
    feed a third instance every batch in the order the merge implies. Returns (merged, single).

    ``merge_state`` puts the incoming instance's rows first, so the single instance sees the
    second half of the batches before the first.
    """
    half = len(batches) // 2
    first, second, single = make(), make(), make()
    for batch in batches[:half]:
        first.update(*batch)
    for batch in batches[half:]:
        second.update(*batch)
    for batch in [*batches[half:], *batches[:half]]:
        single.update(*batch)
    first.merge_state(second)
    return first, single
