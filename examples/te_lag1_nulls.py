"""Which null does lag-1 TE between layers sit at? Three surrogates of each epoch's series.

Lag-1 TE (the setting of Moldovan, Caţaron & Andonie 2024, arXiv 2404.01364) relates a layer's
state on the *previous* training sample to the next layer's state on the current one. Samples
arrive in a shuffled order, so what can that TE carry? This script trains exactly the
``infodyn run te-plane`` setup (data, model, optimiser, per-epoch shuffle) and, for every
epoch, compares the lag-1 TE of two layer pairs (mean over neuron pairs, bits) with three nulls
computed on the same binarised series:

- ``source``: the source observations permuted, the target kept (``transfer_entropy_null``,
  JIDT's ``computeSignificance``) — the null te-plane records;
- ``order``: the whole epoch's samples in another random order, every layer together — the null
  of "the order of the samples carries nothing";
- ``batch``: samples reordered only within their own batch — keeps which samples shared a
  batch (its binarisation threshold and the weights of that training step).

TE above ``order`` but at ``batch`` is carried by differences between batches — the network
changing from one step to the next, and each batch's own threshold — not by one sample
informing the next. TE below ``source`` but at ``order`` means the source-shuffle null is
conservative for that pair: it also breaks the same-sample dependence between the source and
the target's past. One thread runs the default (mnist1d, 8 epochs) in about 10 s.

    python examples/te_lag1_nulls.py --data mnist1d --epochs 8
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from infodyn.config import build_config
from infodyn.experiments.te_plane import TEPlane, TEPlaneConfig
from infodyn.functional import transfer_entropy, transfer_entropy_null
from infodyn.metrics import LayerTransferEntropy, SurrogateTest
from infodyn.models.cnn import HIDDEN_LAYERS

PAIRS = (("h1", "h2"), ("h3", "softmax"))


def reorder_null(x: Tensor, y: Tensor, orders: list[Tensor]) -> float:
    """Mean over ``orders`` of the pair-mean lag-1 TE with the samples (rows) reordered."""
    return sum(float(transfer_entropy(x[o], y[o]).mean()) for o in orders) / len(orders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="mnist1d", help="a te-plane dataset")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--surrogates", type=int, default=50, help="source-shuffle surrogates")
    parser.add_argument("--orders", type=int, default=20, help="reorderings per order/batch null")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = build_config(
        TEPlaneConfig, [f"data.name={args.data}", f"epochs={args.epochs}", f"seed={args.seed}"]
    )
    torch.manual_seed(config.seed)  # as the run loop seeds before build
    experiment = TEPlane()
    setup = experiment.build(config, torch.device("cpu"))
    captured: dict[str, Tensor] = {}
    for name in (*HIDDEN_LAYERS, "head"):
        module = getattr(setup.model, name)
        module.register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach())
        )
    spe, batch = config.steps_per_epoch, config.optim.batch_size
    g = torch.Generator().manual_seed(config.seed + 7)
    print(f"{args.data}: lag-1 TE (bits, mean over neuron pairs) and three nulls per epoch")
    print("epoch  pair          TE        source    order     batch")
    for epoch in range(1, args.epochs + 1):
        metric = LayerTransferEntropy(
            HIDDEN_LAYERS, null=SurrogateTest(n_surrogates=args.surrogates, seed=config.seed)
        )
        for k in range(spe):
            experiment.train_step(setup, (epoch - 1) * spe + k + 1)  # the training forward pass
            metric.update({n: captured[n] for n in HIDDEN_LAYERS}, captured["head"])
        bits = metric.kept_series()
        t = bits["h1"].shape[0]
        orders = [torch.randperm(t, generator=g) for _ in range(args.orders)]
        within = [
            torch.cat(
                [torch.randperm(min(batch, t - s), generator=g) + s for s in range(0, t, batch)]
            )
            for _ in range(args.orders)
        ]
        for source, target in PAIRS:
            x, y = bits[source], bits[target]
            observed = float(transfer_entropy(x, y).mean())
            shuffled = transfer_entropy_null(x, y, args.surrogates, config.seed)
            print(
                f"{epoch:>5}  {source + '->' + target:<12}  {observed:.2e}  "
                f"{float(shuffled.null_pair_mean.mean()):.2e}  {reorder_null(x, y, orders):.2e}  "
                f"{reorder_null(x, y, within):.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
