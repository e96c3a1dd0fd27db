"""A full-batch training step of the grokking transformer: infodyn's model against the textbook one.

The reference is the computation as usually written: token + position embeddings of all three
positions, ``nn.MultiheadAttention`` with a causal mask and the MLP at every position of every
block, the head at the last position. ``ModularTransformer`` shares the reference's parameters
(the reference reads them), computes the last block at the last position alone and projects
the first block's q/k/v on the (position, token) embedding table. Same data (the grokking
task's training split), same process: median wall time of ``--repeats`` steps (forward,
cross-entropy backward, AdamW), the speed-up, and the largest |difference| of logits and
gradients at the initialisation.

    python benchmarks/transformer_step.py                          # p = 113, 30 %, 1 thread
    python benchmarks/transformer_step.py --modulus 97 --train-fraction 0.4 --threads 2
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from _bench import print_machine_header, timed
from infodyn.data.modular import split_modular
from infodyn.models.transformer import CausalSelfAttention, ModularTransformer


class TextbookTransformer(nn.Module):
    """``net``'s parameters through nn.MultiheadAttention, every position in every block."""

    def __init__(self, net: ModularTransformer) -> None:
        super().__init__()
        self.net = net
        self.attention = nn.ModuleList(_multihead(block.attn) for block in net.blocks)
        self.register_buffer("causal", torch.triu(torch.ones(3, 3, dtype=torch.bool), 1))

    def forward(self, pairs: Tensor) -> Tensor:
        net = self.net
        equals = torch.full_like(pairs[:, :1], net.modulus)
        x = net.embed(torch.cat([pairs, equals], dim=1)) + net.position
        for block, attention in zip(net.blocks, self.attention, strict=True):
            x = x + attention(x, x, x, attn_mask=self.causal, need_weights=False)[0]
            x = x + block.mlp(x)
        return net.head(x[:, -1])


def _multihead(attn: CausalSelfAttention) -> nn.MultiheadAttention:
    d = attn.out_proj.in_features
    mha = nn.MultiheadAttention(d, attn.heads, batch_first=True)
    mha.in_proj_weight = attn.in_proj.weight  # shared, not copied
    mha.in_proj_bias = attn.in_proj.bias
    mha.out_proj.weight = attn.out_proj.weight
    mha.out_proj.bias = attn.out_proj.bias
    return mha


def logits_and_grads(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, list[Tensor]]:
    model.zero_grad(set_to_none=True)
    logits = model(x)
    F.cross_entropy(logits, y).backward()
    return logits.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modulus", type=int, default=113)
    parser.add_argument("--train-fraction", type=float, default=0.3)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--d-mlp", type=int, default=512)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = split_modular(args.modulus, args.train_fraction, seed=0)
    x, y = data.x_train, data.y_train
    print_machine_header(
        f"p = {args.modulus}, {args.train_fraction:.0%} train = {len(y)} pairs (full batch), "
        f"d_model {args.d_model}, {args.heads} heads, d_mlp {args.d_mlp}, {args.layers} layer(s)"
    )
    torch.manual_seed(0)
    net = ModularTransformer(args.modulus, args.d_model, args.heads, args.d_mlp, args.layers)
    reference = TextbookTransformer(net)
    (fast, fast_grads), (ref, ref_grads) = (logits_and_grads(m, x, y) for m in (net, reference))
    logit_diff = float((fast - ref).abs().max())
    grad_diff = max(float((a - b).abs().max()) for a, b in zip(fast_grads, ref_grads, strict=True))

    times = {}
    for name, model in (("nn.MultiheadAttention, all positions", reference), ("infodyn", net)):
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1.0)

        def step(model: nn.Module = model, optimizer: torch.optim.AdamW = optimizer) -> None:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        for _ in range(3):
            step()
        times[name], _ = timed(step, args.repeats)
        print(f"  {name:<38} {times[name] * 1e3:8.1f} ms per step (median of {args.repeats})")
    ratio = times["nn.MultiheadAttention, all positions"] / times["infodyn"]
    print(
        f"\nspeed-up {ratio:.2f}x; at initialisation max |logit diff| {logit_diff:.2e} "
        f"(max |logit| {float(ref.abs().max()):.2f}), max |grad diff| {grad_diff:.2e}"
    )


if __name__ == "__main__":
    main()
