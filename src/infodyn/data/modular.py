"""Modular arithmetic tables, the grokking task of Power et al. (2022)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Operation = Literal["add", "sub", "mul"]


def modular_arithmetic(modulus: int, operation: Operation = "add") -> tuple[Tensor, Tensor]:
    """Every pair (a, b) in [0, p)² with its label (a ∘ b) mod p.

    Returns ``pairs`` (p², 2) int64 and ``labels`` (p²,) int64, row r = (r // p, r % p).

    Example:
        >>> pairs, labels = modular_arithmetic(5)
        >>> pairs[7].tolist(), int(labels[7])
        ([1, 2], 3)
    """
    if modulus < 2:
        raise ValueError(f"modulus must be >= 2, got {modulus}")
    a, b = torch.meshgrid(torch.arange(modulus), torch.arange(modulus), indexing="ij")
    pairs = torch.stack([a.flatten(), b.flatten()], dim=1)
    if operation == "add":
        labels = pairs[:, 0] + pairs[:, 1]
    elif operation == "sub":
        labels = pairs[:, 0] - pairs[:, 1]
    elif operation == "mul":
        labels = pairs[:, 0] * pairs[:, 1]
    else:
        raise ValueError(f"operation must be 'add', 'sub' or 'mul', got {operation!r}")
    return pairs, labels.remainder(modulus)


@dataclass(frozen=True)
class ModularSplit:
    """A seeded train/test split of a modular-arithmetic table."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int


def split_modular(
    modulus: int, train_fraction: float, *, seed: int, operation: Operation = "add"
) -> ModularSplit:
    """Split the full table at random: ``train_fraction`` of the pairs for training.

    Example:
        >>> s = split_modular(11, 0.4, seed=0)
        >>> s.x_train.shape[0] + s.x_test.shape[0]
        121
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    pairs, labels = modular_arithmetic(modulus, operation)
    order = torch.randperm(pairs.shape[0], generator=torch.Generator().manual_seed(seed))
    n_train = round(train_fraction * pairs.shape[0])
    if n_train < 2 or pairs.shape[0] - n_train < 2:
        raise ValueError(
            f"train_fraction={train_fraction} leaves {n_train} training and "
            f"{pairs.shape[0] - n_train} test pairs for modulus {modulus}; both need >= 2"
        )
    train, test = order[:n_train], order[n_train:]
    return ModularSplit(pairs[train], labels[train], pairs[test], labels[test], modulus)
