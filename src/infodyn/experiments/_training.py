"""Training-loop pieces shared by the experiments and their benchmarks."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


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
    was_training = model.training
    model.eval()
    try:
        logits = model(x)
    finally:
        model.train(was_training)
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
