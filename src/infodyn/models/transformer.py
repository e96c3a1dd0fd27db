"""The small decoder-only transformer of the grokking literature, for modular arithmetic.

Input: the three tokens ``a``, ``b`` and ``=`` (token id ``modulus``), learned token and
position embeddings, ``layers`` blocks of causal multi-head attention and a ReLU MLP, each
added to the residual stream, no LayerNorm, and a linear readout of the residual stream at the
last position (the ``=`` token). This is the one-layer model of Nanda et al. (2023, "Progress
measures for grokking via mechanistic interpretability": d_model 128, 4 heads, d_mlp 512, no
LayerNorm, unembedding without bias), initialised as theirs, and, with ``layers=2``, the shape
of Power et al. (2022). The features that matrix information and richness read are the head's
input: the final residual stream at the ``=`` position.

Only that position is read, so the last block computes its query, attention output and MLP at
the last position alone (keys and values at all three); and every row of the first block's
input is one of the 3·(p + 1) (position, token) embeddings, so the first block's q/k/v
projection runs on that table and is looked up. Both leave the logits as the full computation
gives them (``tests/test_grokking_transformer.py`` checks against ``nn.MultiheadAttention``)
and make a full-batch training step ~3.8× faster on CPU (``benchmarks/transformer_step.py``:
73 ms against 275 ms at Nanda et al.'s size, 1 thread).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["CausalSelfAttention", "ModularTransformer"]


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention: ``nn.MultiheadAttention``'s arithmetic, for short inputs.

    softmax(q·kᵀ/√d_head + causal mask)·v per head, heads concatenated, then ``out_proj``.
    ``in_proj`` stacks W_Q, W_K, W_V row-wise with their biases, exactly as
    ``nn.MultiheadAttention.in_proj_weight``/``in_proj_bias`` do, so weights copy across.

    Args:
        d_model: Width of the input and output.
        heads: Number of heads (must divide ``d_model``).

    Example:
        >>> attn = CausalSelfAttention(d_model=8, heads=2)
        >>> x = torch.randn(5, 3, 8)
        >>> attn(x).shape, attn(x, last_only=True).shape
        (torch.Size([5, 3, 8]), torch.Size([5, 1, 8]))
        >>> torch.allclose(attn(x)[:, -1:], attn(x, last_only=True), atol=1e-6)
        True
    """

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by heads ({heads}); e.g. d_model=128, "
                f"heads=4"
            )
        self.heads = heads
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, *, last_only: bool = False) -> Tensor:
        """Attention outputs (n, t, d), or (n, 1, d) at the last position for ``last_only``.

        Args:
            x: The input (n, t, d).
            last_only: Compute the output at the last position alone (it sees every key), so
                the query is projected there alone.
        """
        d = x.shape[-1]
        weight, bias = self.in_proj.weight, self.in_proj.bias
        q = F.linear(x[:, -1:] if last_only else x, weight[:d], bias[:d])
        return self.attend(q, F.linear(x, weight[d:], bias[d:]))

    def attend(self, q: Tensor, kv: Tensor) -> Tensor:
        """Attention of projected queries on projected keys and values, then ``out_proj``.

        Args:
            q: Queries (n, t_q, d) of the last t_q positions (all of them, or the last one).
            kv: Keys and values (n, t, 2d) of all t positions, as ``in_proj``'s last 2d rows
                give them.

        Returns:
            (n, t_q, d).
        """
        n, t_q, d = q.shape
        t = kv.shape[1]
        e = d // self.heads
        # The 1/√d_head scale on q, not on the scores: the same product, one tensor smaller.
        q = (q * e**-0.5).view(n, t_q, 1, self.heads, e)
        k, v = kv.view(n, 1, t, 2, self.heads, e).unbind(3)
        # Broadcast products, not a batched matmul: with t ≤ 3 a bmm of n·h tiny blocks costs
        # more than multiplying and summing the (n, t_q, t, h, e) products outright.
        scores = (q * k).sum(-1)  # (n, t_q, t, h)
        if t_q > 1:
            query_pos = torch.arange(t - t_q, t, device=q.device)
            future = torch.arange(t, device=q.device)[None, :] > query_pos[:, None]
            scores = scores.masked_fill(future[:, :, None], float("-inf"))
        out = (scores.softmax(dim=2)[..., None] * v).sum(2)  # (n, t_q, h, e)
        return self.out_proj(out.reshape(n, t_q, d))


class _Block(nn.Module):
    def __init__(self, d_model: int, heads: int, d_mlp: int) -> None:
        super().__init__()
        self.attn = CausalSelfAttention(d_model, heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.ReLU(), nn.Linear(d_mlp, d_model))

    def forward(
        self, x: Tensor, *, last_only: bool = False, projected: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        """The residual stream after the block: (n, t, d), or (n, 1, d) for ``last_only``.

        ``projected`` holds the attention's (q, kv) when the caller has them already; ``x``
        then needs only the positions the output is asked for.
        """
        if projected is None:
            attended = self.attn(x, last_only=last_only)
        else:
            attended = self.attn.attend(*projected)
        x = (x[:, -1:] if last_only else x) + attended
        return x + self.mlp(x)


class ModularTransformer(nn.Module):
    """Tokens (a, b, '=') → ``layers`` attention + MLP blocks → linear head at the last position.

    Initialised as Nanda et al. (2023): every weight N(0, 1/d_model) except the unembedding
    (``head``), N(0, 1/p); biases zero.

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

    table_offset: Tensor

    def __init__(self, modulus: int, d_model: int, heads: int, d_mlp: int, layers: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by heads ({heads}); e.g. d_model=128, "
                f"heads=4"
            )
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.modulus = modulus
        self.embed = nn.Embedding(modulus + 1, d_model)  # the residues and '='
        self.position = nn.Parameter(torch.empty(3, d_model))
        self.blocks = nn.ModuleList(_Block(d_model, heads, d_mlp) for _ in range(layers))
        self.head = nn.Linear(d_model, modulus, bias=False)
        # Row of (position t, token) in the flattened (3, p + 1) embedding table.
        self.register_buffer("table_offset", torch.arange(3) * (modulus + 1), persistent=False)
        self._init_like_nanda()

    @torch.no_grad()
    def _init_like_nanda(self) -> None:
        # Nanda et al.'s code draws W_E, W_pos, W_Q/K/V/O, W_in and W_out ~ N(0, 1/d_model),
        # W_U ~ N(0, 1/d_vocab), biases zero; PyTorch's defaults (N(0, 1) embeddings) start
        # ~10× larger and grok later.
        d_model = self.head.in_features
        for name, param in self.named_parameters():
            if name == "head.weight":
                nn.init.normal_(param, std=self.modulus**-0.5)
            elif name.endswith("bias"):
                nn.init.zeros_(param)
            else:
                nn.init.normal_(param, std=d_model**-0.5)

    def forward(self, pairs: Tensor) -> Tensor:
        """Logits (N, p) for operand pairs (N, 2) of residues."""
        equals = torch.full_like(pairs[:, :1], self.modulus)
        rows = torch.cat([pairs, equals], dim=1) + self.table_offset  # (N, 3)
        table = (self.position[:, None] + self.embed.weight).flatten(0, 1)  # (3·(p+1), d)
        last = len(self.blocks) - 1
        # A one-block model reads its input at the last position alone (the residual there).
        x = F.embedding(rows if last else rows[:, -1:], table)
        for i, block in enumerate(cast(Iterable[_Block], self.blocks)):
            projected = None
            if i == 0:
                # The first block's input rows are table rows: project the table, look them up.
                d = table.shape[1]
                qkv = block.attn.in_proj(table)
                q = F.embedding(rows[:, -1:] if i == last else rows, qkv[:, :d])
                projected = (q, F.embedding(rows, qkv[:, d:]))
            x = block(x, last_only=i == last, projected=projected)
        return self.head(x[:, -1])
