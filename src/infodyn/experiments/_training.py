"""Training-loop pieces shared by the experiments and their benchmarks."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from infodyn.tap import eval_mode


def full_batch_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor
) -> None:
    """One optimisation step of cross-entropy on the whole batch."""
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
    """Mean cross-entropy (nats) and accuracy of ``model`` on (x, y), in eval mode."""
    with eval_mode(model):
        logits = model(x)
    return {
        "loss": float(F.cross_entropy(logits, y)),
        "accuracy": float((logits.argmax(dim=1) == y).double().mean()),
    }


def fixed_subset(n: int, size: int, seed: int) -> Tensor:
    """A seeded subset of ``size`` indices out of ``n`` (all of them when size >= n), sorted."""
    if size >= n:
        return torch.arange(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:size].sort().values


class ShuffledBatches:
    """Mini-batch indices of a shuffled training set, epoch after epoch, resumable exactly.

    Like a ``DataLoader(shuffle=True)`` cycled forever: each epoch is a fresh permutation of
    ``range(n)`` drawn from its own seeded generator, cut into batches of ``batch_size`` (the
    last one shorter when ``n`` is not a multiple). :meth:`state_dict` holds the generator,
    the current permutation and the position in it, so a checkpoint resumes the same order.

    Example:
        >>> batches = ShuffledBatches(5, 2, seed=0)
        >>> sizes = [len(batches.next()) for _ in range(4)]
        >>> sizes  # 2 + 2 + 1 make an epoch, then a new one starts
        [2, 2, 1, 2]
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < 1 or batch_size < 1:
            raise ValueError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(n, generator=self.generator)
        self.position = 0

    def next(self) -> Tensor:
        """The indices of the next batch."""
        if self.position >= self.n:
            self.order = torch.randperm(self.n, generator=self.generator)
            self.position = 0
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Tensor | int]:
        """Generator state, current permutation and position (checkpointable tensors/ints)."""
        return {
            "generator": self.generator.get_state(),
            "order": self.order.clone(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Tensor | int]) -> None:
        """Restore what :meth:`state_dict` returned."""
        generator, order = state["generator"], state["order"]
        assert isinstance(generator, Tensor) and isinstance(order, Tensor)
        self.generator.set_state(generator)
        self.order = order.clone()
        self.position = int(state["position"])
