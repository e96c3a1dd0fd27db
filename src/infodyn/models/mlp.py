"""Multi-layer perceptrons for the built-in experiments."""

from __future__ import annotations

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
