"""Epoch-based minibatch training on the run loop: the per-epoch shuffle and the epoch's meter.

The run loop counts steps; these objects turn a step into (epoch, batch) as
``DataLoader(shuffle=True, drop_last=False)`` would: one fresh permutation of the training set
per epoch, drawn from one seeded generator, cut into consecutive batches (the last one may be
smaller). Both are checkpointable (``state_dict``/``load_state_dict`` of plain tensors), so a run
resumed in the middle of an epoch continues that epoch's order and its running loss exactly.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from infodyn._validation import check_int
from infodyn.data.datasets import load_dataset

__all__ = ["EpochMeter", "EpochOrder", "derived_steps", "train_count"]


@functools.lru_cache(maxsize=16)
def train_count(name: str, seed: int, train_size: int | None, test_fraction: float) -> int:
    """Training samples of a shipped dataset split (cached: configs ask at every validation)."""
    data = load_dataset(name, seed=seed, train_size=train_size, test_fraction=test_fraction)
    return int(data.y_train.shape[0])


def derived_steps(epochs: int, steps_per_epoch: int, steps: int) -> int:
    """A run's steps, ``epochs × steps_per_epoch``; a ``steps`` given (non-zero) must agree.

    Example:
        >>> derived_steps(3, 10, 0), derived_steps(3, 10, 30)
        (30, 30)
    """
    derived = epochs * steps_per_epoch
    if steps not in (0, derived):
        raise ValueError(
            f"steps is derived from epochs: {epochs} epochs × {steps_per_epoch} "
            f"steps per epoch = {derived}, got steps={steps}; set epochs instead"
        )
    return derived


class EpochOrder:
    """Which training samples step ``s`` trains on: a seeded permutation per epoch.

    Args:
        num_samples: Size of the training set.
        batch_size: Samples per step (the epoch's last batch holds the remainder).
        seed: Seed of the permutation generator.

    Example:
        >>> order = EpochOrder(5, 2, seed=0)
        >>> order.steps_per_epoch
        3
        >>> sorted(torch.cat([order.batch(s) for s in (1, 2, 3)]).tolist())
        [0, 1, 2, 3, 4]
        >>> order.epoch_of(3), order.epoch_of(4), order.is_epoch_end(3)
        (1, 2, True)
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int) -> None:
        self.num_samples = check_int("num_samples", num_samples, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.steps_per_epoch = math.ceil(self.num_samples / self.batch_size)
        self.generator = torch.Generator().manual_seed(seed)
        self._epoch = 0
        self._order = torch.empty(0, dtype=torch.long)

    def epoch_of(self, step: int) -> int:
        """The epoch (1, 2, …) that training step ``step`` (≥ 1) belongs to."""
        return (step - 1) // self.steps_per_epoch + 1

    def is_epoch_end(self, step: int) -> bool:
        """Whether ``step`` is the last step of its epoch."""
        return step >= 1 and step % self.steps_per_epoch == 0

    def batch(self, step: int) -> Tensor:
        """Indices of the samples of training step ``step`` (≥ 1), in training order.

        Steps must be asked in order (as the run loop does); a new epoch draws its permutation.
        """
        epoch = self.epoch_of(step)
        if epoch != self._epoch:
            if epoch != self._epoch + 1:
                raise RuntimeError(
                    f"step {step} is in epoch {epoch}, but the order is at epoch {self._epoch}; "
                    f"steps must come in order (resume loads the checkpointed order)"
                )
            self._order = torch.randperm(self.num_samples, generator=self.generator)
            self._epoch = epoch
        k = (step - 1) % self.steps_per_epoch
        return self._order[k * self.batch_size : (k + 1) * self.batch_size]

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "generator": self.generator.get_state(),
            "epoch": torch.tensor(self._epoch),
            "order": self._order.clone(),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.generator.set_state(state["generator"])
        self._epoch = int(state["epoch"])
        self._order = state["order"].clone()


class EpochMeter:
    """Mean loss and accuracy over the training batches of the current epoch.

    Example:
        >>> meter = EpochMeter()
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
        >>> meter.add(torch.tensor(1.0), logits, torch.tensor([0, 0]))  # one of two right
        >>> meter.add(torch.tensor(3.0), logits, torch.tensor([0, 1]))  # both right
        >>> meter.pop()
        {'loss': 2.0, 'accuracy': 0.75}
    """

    def __init__(self) -> None:
        self._sums = torch.zeros(3, dtype=torch.float64)  # Σ loss·B, Σ correct, Σ B

    def add(self, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        """One batch: its mean loss (nats), logits (B, C) and labels (B,)."""
        batch = labels.shape[0]
        correct = (logits.detach().argmax(dim=1) == labels).sum()
        self._sums += torch.tensor(
            [float(loss.detach()) * batch, float(correct), float(batch)], dtype=torch.float64
        )

    def pop(self) -> dict[str, float]:
        """``{"loss", "accuracy"}`` over the batches added since the last pop; then reset."""
        total = float(self._sums[2])
        if total == 0:
            raise RuntimeError("EpochMeter.pop() before any batch was added")
        values = {"loss": float(self._sums[0]) / total, "accuracy": float(self._sums[1]) / total}
        self._sums.zero_()
        return values

    def state_dict(self) -> dict[str, Tensor]:
        return {"sums": self._sums.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self._sums = state["sums"].clone().to(torch.float64)
