"""Few labels: the labeled/unlabeled split of a training set, and batches that are always full.

A label budget of k per class keeps k seeded, randomly chosen training samples of every class
with their labels; the rest of the training split is the unlabeled pool (labels hidden from
training, kept to score pseudo-labels). FixMatch draws a labeled and a μ-times larger unlabeled
batch every step; with 40 labeled samples and batches of 32 an epoch does not divide into
batches, so :class:`CyclicBatches` chains seeded permutations and always returns full batches.
:class:`StepMeans` averages a step's diagnostics (losses, pseudo-label rates) over the steps
between two records.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from infodyn._validation import check_int
from infodyn.data.datasets import load_dataset

__all__ = ["CyclicBatches", "StepMeans", "class_counts", "labeled_split"]


@functools.lru_cache(maxsize=16)
def class_counts(name: str, seed: int, test_fraction: float) -> tuple[int, ...]:
    """Samples per class in the training split of ``name``, as ``load_dataset`` splits it."""
    data = load_dataset(name, seed=seed, test_fraction=test_fraction)
    return tuple(int(c) for c in data.y_train.bincount(minlength=data.num_classes).tolist())


def labeled_split(labels: Tensor, labels_per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """Indices of ``labels_per_class`` seeded random samples per class, and of all the others.

    Args:
        labels: (n,) training labels in [0, C).
        labels_per_class: The label budget k, ≤ the smallest class.
        seed: Seeds the choice.

    Returns:
        ``(labeled, unlabeled)``, sorted index tensors; ``labeled`` has k·C entries.

    Example:
        >>> y = torch.tensor([0, 1, 0, 1, 0, 1])
        >>> labeled, unlabeled = labeled_split(y, 2, seed=0)
        >>> y[labeled].bincount().tolist(), len(unlabeled)
        ([2, 2], 2)
    """
    y = labels.cpu().numpy()
    counts = np.bincount(y)
    k = check_int("labels_per_class", labels_per_class, minimum=1)
    smallest = int(counts.min())
    if k > smallest:
        raise ValueError(
            f"labels_per_class={k} is larger than class {int(counts.argmin())}, which has "
            f"{smallest} training samples; use at most {smallest}"
        )
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:k] for c in range(len(counts))]
    )
    labeled = np.sort(chosen)
    unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
    return torch.from_numpy(labeled), torch.from_numpy(unlabeled)


class CyclicBatches:
    """Full batches of ``batch_size`` indices from seeded permutations of ``range(n)``, chained.

    Each permutation is used up before the next is drawn, so every index appears equally often
    up to one permutation; a batch may span two permutations (and then can hold an index twice
    when ``batch_size > n``). Checkpointable like :class:`~infodyn.experiments._training.
    ShuffledBatches`.

    Example:
        >>> batches = CyclicBatches(5, 4, seed=0)
        >>> [len(batches.next()) for _ in range(3)]
        [4, 4, 4]
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n = check_int("n", n, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.generator = torch.Generator().manual_seed(seed)
        self.buffer = torch.empty(0, dtype=torch.long)

    def next(self) -> Tensor:
        """The next batch of indices."""
        while self.buffer.numel() < self.batch_size:
            self.buffer = torch.cat([self.buffer, torch.randperm(self.n, generator=self.generator)])
        batch, self.buffer = self.buffer[: self.batch_size], self.buffer[self.batch_size :]
        return batch

    def state_dict(self) -> dict[str, Tensor]:
        """Generator state and the unused rest of the current permutation."""
        return {"generator": self.generator.get_state(), "buffer": self.buffer.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.generator.set_state(state["generator"])
        self.buffer = state["buffer"].clone()


class StepMeans:
    """Means of per-step values since the last :meth:`pop`; checkpointable.

    Example:
        >>> meter = StepMeans(("a", "b"))
        >>> meter.add({"a": 1.0, "b": 2.0}); meter.add({"a": 3.0})
        >>> meter.pop()
        {'a': 2.0, 'b': 2.0}
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.sums = torch.zeros(len(names), dtype=torch.float64)
        self.counts = torch.zeros(len(names), dtype=torch.float64)

    def add(self, values: dict[str, float]) -> None:
        """One step's values (a name may be missing from a step)."""
        for i, name in enumerate(self.names):
            if name in values:
                self.sums[i] += values[name]
                self.counts[i] += 1

    def pop(self) -> dict[str, float]:
        """Each name's mean since the last pop (names never added are left out); resets."""
        out = {
            name: float(self.sums[i] / self.counts[i])
            for i, name in enumerate(self.names)
            if self.counts[i] > 0
        }
        self.sums.zero_()
        self.counts.zero_()
        return out

    def state_dict(self) -> dict[str, Tensor]:
        return {"sums": self.sums.clone(), "counts": self.counts.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.sums = state["sums"].clone()
        self.counts = state["counts"].clone()
