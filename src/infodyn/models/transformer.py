"""The small decoder-only transformer of the grokking literature, for modular arithmetic.

Input: the three tokens ``a``, ``b`` and ``=`` (token id ``modulus``), learned token and
position embeddings, ``layers`` blocks of causal multi-head attention and a ReLU MLP, each
added to the residual stream, no LayerNorm, and a linear readout of the residual stream at the
last position (the ``=`` token). This is the one-layer model of Nanda et al. (2023, "Progress
measures for grokking via mechanistic interpretability": d_model 128, 4 heads, d_mlp 512, no
LayerNorm, unembedding without bias) and, with ``layers=2``, the shape of Power et al. (2022).
The features that matrix information and richness read are the head's input: the final
residual stream at the ``=`` position.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ModularTransformer"]


class _Block(nn.Module):
    def __init__(self, d_model: int, heads: int, d_mlp: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.ReLU(), nn.Linear(d_mlp, d_model))

    def forward(self, x: Tensor, causal: Tensor) -> Tensor:
        x = x + self.attn(x, x, x, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(x)


class ModularTransformer(nn.Module):
    """Tokens (a, b, '=') → ``layers`` attention + MLP blocks → linear head at the last position.

    Args:
        modulus: p; the vocabulary is the p residues and the ``=`` token.
        d_model: Width of the residual stream.
        heads: Attention heads (must divide ``d_model``).
        d_mlp: Hidden width of each MLP.
        layers: Number of blocks.

    Example:
        >>> net = ModularTransformer(modulus=7, d_model=16, heads=2, d_mlp=32, layers=1)
        >>> net(torch.tensor([[1, 2], [3, 4]])).shape
        torch.Size([2, 7])
        >>> net.head.bias is None
        True
    """

    def __init__(self, modulus: int, d_model: int, heads: int, d_mlp: int, layers: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by heads ({heads}); e.g. d_model=128, "
                f"heads=4"
            )
        self.modulus = modulus
        self.embed = nn.Embedding(modulus + 1, d_model)  # the residues and '='
        self.position = nn.Parameter(torch.randn(3, d_model) / d_model**0.5)
        self.blocks = nn.ModuleList(_Block(d_model, heads, d_mlp) for _ in range(layers))
        self.head = nn.Linear(d_model, modulus, bias=False)
        causal = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, pairs: Tensor) -> Tensor:
        """Logits (N, p) for operand pairs (N, 2) of residues."""
        equals = torch.full_like(pairs[:, :1], self.modulus)
        x = self.embed(torch.cat([pairs, equals], dim=1)) + self.position
        for block in self.blocks:
            x = block(x, self.causal)
        return self.head(x[:, -1])
