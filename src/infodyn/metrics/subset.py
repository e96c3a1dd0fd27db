"""``SampleSubset``: feed a metric only a seeded random subset of the samples it is shown.

Estimators whose cost grows faster than linearly in the number of samples (D_LR's n×n
kernels, the k-nearest-neighbour MI of the information plane) keep a bounded number of rows.
Their own ``max_samples`` keeps the *first* rows, which over a loader in dataset order may be
one or two classes. ``SampleSubset`` keeps instead a uniformly random, seeded set of ``size``
sample positions out of ``total`` (the length of the pass, when it is known), so the kept rows
are a fair sample of the whole pass, and the same on every call with the same seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.wrappers.abstract import WrapperMetric

from infodyn._validation import check_int

__all__ = ["SampleSubset", "subset_positions"]

# What a metric's update takes that is not one row per sample: passed through unsliced.
_SHARED_INPUTS = ("head_weight", "head_bias")


def subset_positions(total: int, size: int, seed: int) -> Tensor:
    """Sorted positions of ``size`` samples drawn without replacement from ``range(total)``.

    All positions when ``size >= total``. Drawn with a private generator: the global random
    state is left alone.

    Example:
        >>> subset_positions(10, 3, seed=0)
        tensor([1, 4, 7])
        >>> subset_positions(3, 5, seed=0)
        tensor([0, 1, 2])
    """
    total = check_int("total", total, minimum=1)
    size = check_int("size", size, minimum=1)
    if size >= total:
        return torch.arange(total)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:size].sort().values


def _rows(value: Any, keep: Tensor) -> Any:
    if isinstance(value, Tensor):
        return value.index_select(0, keep.to(value.device))
    if isinstance(value, Mapping):
        return {name: _rows(item, keep) for name, item in value.items()}
    raise TypeError(
        f"SampleSubset can only select rows of tensors (or dicts of them), got "
        f"{type(value).__name__}"
    )


def _cat(parts: list[Any]) -> Any:
    if isinstance(parts[0], Tensor):
        return torch.cat(parts)
    return {name: torch.cat([part[name] for part in parts]) for name in parts[0]}


class SampleSubset(WrapperMetric):
    """Update ``metric`` with a seeded random ``size`` of the samples, out of ``total``.

    Batches arrive in order; the wrapper counts the samples seen and passes on the rows whose
    position in the pass belongs to :func:`subset_positions` ``(total, size, seed)``. With
    ``total=None`` (a pass of unknown length) it keeps the first ``size`` samples. Per-sample
    inputs (``features``, ``labels``, ``logits``, ``inputs``, each layer of ``activations``)
    are sliced on dim 0 and kept (at most ``size`` rows); at :meth:`compute` they go to the
    wrapped metric in one update, with the head's weight and bias of the last batch (constant
    over an evaluation pass). One update, because a batch may hold a single chosen row, which
    estimators needing two samples per update would refuse.

    The wrapped metric does the computing; ``reset`` also restarts the count, so the next pass
    keeps the same positions. The kept rows are this process's: no reduction across ranks.

    Args:
        metric: Any metric that declares ``inputs`` (see :mod:`infodyn.tap`).
        size: How many samples to keep.
        total: Samples in one pass (e.g. ``len(loader.dataset)``), or None.
        seed: Seed of the draw.

    Example:
        >>> from infodyn.metrics import NeuralCollapse
        >>> metric = SampleSubset(NeuralCollapse(num_classes=2, measures=["nc1"]), 6, total=10)
        >>> g = torch.Generator().manual_seed(0)
        >>> features, labels = torch.randn(10, 3, generator=g), torch.arange(10) % 2
        >>> head = torch.randn(2, 3, generator=g)
        >>> metric.update(features=features[:5], labels=labels[:5], head_weight=head,
        ...               head_bias=torch.zeros(2))
        >>> metric.update(features=features[5:], labels=labels[5:], head_weight=head,
        ...               head_bias=torch.zeros(2))
        >>> metric.kept
        6
    """

    def __init__(self, metric: Metric, size: int, *, total: int | None = None, seed: int = 0):
        super().__init__()
        if not isinstance(metric, Metric):
            raise TypeError(f"metric must be a torchmetrics Metric, got {type(metric).__name__}")
        self.metric = metric
        self.size = check_int("size", size, minimum=1)
        self.total = check_int("total", total, minimum=1, allow_none=True)
        self.seed = check_int("seed", seed)
        self.inputs = tuple(getattr(metric, "inputs", ()))
        layers = getattr(metric, "layers", None)
        if layers is not None:
            self.layers = tuple(layers)
        wanted = subset_positions(total, size, seed) if total is not None else None
        self._wanted = wanted
        self.seen = 0
        self.kept = 0
        self._rows: list[dict[str, Any]] = []
        self._shared: dict[str, Any] = {}

    def _keep(self, batch_size: int) -> Tensor:
        positions = torch.arange(self.seen, self.seen + batch_size)
        if self._wanted is None:
            chosen = positions[: max(self.size - self.kept, 0)]
        else:
            chosen = positions[torch.isin(positions, self._wanted)]
        return chosen - self.seen

    def update(self, **inputs: Any) -> None:
        """Keep the rows of this batch at chosen positions (passed on at :meth:`compute`)."""
        per_sample = {k: v for k, v in inputs.items() if k not in _SHARED_INPUTS}
        if not per_sample:
            raise ValueError("SampleSubset needs at least one per-sample input to count samples")
        sizes = {
            k: (v.shape[0] if isinstance(v, Tensor) else next(iter(v.values())).shape[0])
            for k, v in per_sample.items()
        }
        if len(set(sizes.values())) != 1:
            raise ValueError(f"per-sample inputs disagree on the batch size: {sizes}")
        batch_size = next(iter(sizes.values()))
        keep = self._keep(batch_size)
        self.seen += batch_size
        if keep.numel() == 0:
            return
        self.kept += int(keep.numel())
        self._rows.append({k: _rows(v, keep) for k, v in per_sample.items()})
        self._shared = {k: v for k, v in inputs.items() if k in _SHARED_INPUTS}

    def _flush(self) -> None:
        # One update with every kept row: a batch may contribute a single row, which the
        # wrapped estimators (at least two samples per update) would refuse on its own.
        if not self._rows:
            return
        joined = {k: _cat([rows[k] for rows in self._rows]) for k in self._rows[0]}
        self.metric.update(**joined, **self._shared)
        self._rows = []

    def compute(self) -> Any:
        """The wrapped metric's value on the kept samples."""
        if self.kept == 0:
            raise RuntimeError(
                f"SampleSubset kept no sample (saw {self.seen}); with total={self.total} the "
                f"pass must be as long as that, or pass total=None to keep the first rows"
            )
        self._flush()
        return self.metric.compute()

    def reset(self) -> None:
        """Reset the wrapped metric and the count: the next pass keeps the same positions."""
        self.metric.reset()
        self.seen = 0
        self.kept = 0
        self._rows = []
