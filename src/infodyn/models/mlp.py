"""Multi-layer perceptrons for the built-in experiments."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ModularMLP(nn.Module):
    """Embed both operands, concatenate, one hidden ReLU layer, linear classifier head.

    The features that matrix information and neural collapse read are the head's input
    (the output of ``act``); the head's weight rows are the class vectors.

    Example:
        >>> import torch
        >>> net = ModularMLP(modulus=7, embed_dim=4, hidden_dim=16)
        >>> net(torch.tensor([[1, 2], [3, 4]])).shape
        torch.Size([2, 7])
    """

    def __init__(self, modulus: int, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(modulus, embed_dim)
        self.hidden = nn.Linear(2 * embed_dim, hidden_dim)
        self.act = nn.ReLU()
        self.head = nn.Linear(hidden_dim, modulus)

    def forward(self, pairs: Tensor) -> Tensor:
        return self.head(self.act(self.hidden(self.embed(pairs).flatten(1))))


class ReLUMLP(nn.Module):
    """Flatten → [Linear → ReLU] × ``depth`` → linear head: Sakamoto & Sato's toy MLP.

    With ``depth=2`` and ``hidden_dim=200`` this is the network of their Figs. 2–4
    (Flatten → 200 → ReLU → 200 → ReLU → C). The features neural collapse reads are the
    head's input (the last ReLU's output); ``head`` holds the class vectors.

    Example:
        >>> import torch
        >>> net = ReLUMLP(input_dim=64, num_classes=10)
        >>> net(torch.zeros(3, 1, 8, 8)).shape, net.head.in_features
        (torch.Size([3, 10]), 200)
    """

    def __init__(
        self, input_dim: int, num_classes: int, *, hidden_dim: int = 200, depth: int = 2
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1 hidden layer, got {depth}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = input_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
            width = hidden_dim
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


@torch.no_grad()
def scale_parameters(model: nn.Module, factor: float) -> nn.Module:
    """Multiply every parameter of ``model`` by ``factor`` in place; returns ``model``.

    Sakamoto & Sato (after Liu et al.'s Omnigrok) scale *all* initial parameters, biases
    included, by ``init_scale`` = 8: the large initialisation is what makes the network
    memorise first and generalise only once weight decay has shrunk it.

    Example:
        >>> net = scale_parameters(nn.Linear(2, 1), 0.0)
        >>> net.weight.abs().sum().item() + net.bias.abs().sum().item()
        0.0
    """
    for parameter in model.parameters():
        parameter.mul_(factor)
    return model
