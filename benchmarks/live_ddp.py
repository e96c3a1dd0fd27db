"""The live benchmark's ResNet under DDP (gloo) records what one process records on the same data.

Run with two CPU processes:

    torchrun --standalone --nproc_per_node 2 benchmarks/live_ddp.py            # 4 blocks × 64
    torchrun --standalone --nproc_per_node 2 benchmarks/live_ddp.py --blocks 2 --channels 8

**DDP run.** Each rank takes its share of digits' training split from a
``DistributedSampler`` (shuffled, reseeded every epoch), ``--batch / world`` samples per step
(full batches only), and trains ``DistributedDataParallel(ResNet)`` with SGD; an infodyn
``Monitor`` on each rank records every family live (``benchmarks/_live.py``: MIR/HDR, TE
between the block outputs and the softmax, NeuralCollapse, the information plane with nHSIC,
D_LR) at the end of every epoch. The metric states are reduced across ranks when computed;
rank 0 writes the store (``store=None`` elsewhere).

**One-process reference** (rank 0, after the DDP run, no process group): the same model from
the same seed and the same sampler's index lists, each step forwarding every rank's batch
separately (BatchNorm normalises over the same samples as on that rank) and stepping on the
mean of their losses — the gradient DDP averages. Its own forward hooks (not infodyn's)
keep what each rank's batches produced; at each epoch end fresh metrics take rank 0's
batches in order, then rank 1's, … — the order in which a DDP reduction joins gathered rows —
with a :meth:`~infodyn.metrics.LayerTransferEntropy.new_series` break between ranks, since
each rank's stream is one trial of the pooled TE counts. Their values become records with the
monitor's own rule, ``infodyn.monitor.records_of``.

Printed: the largest difference per family over every recorded scalar and array element
(|Δ| / max(1, |reference|), goal ≤ 1e-6), how far the same data fed as one interleaved stream
(rank 0's step, rank 1's step, …; no break) lands — what the ordering convention is worth —
and the wall times. The last line is a JSON summary; the exit status is 1 when the goal is
missed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from torchmetrics import Metric

from _live import family_metrics
from infodyn import Monitor, Probe, RunStore, every
from infodyn.data import load_dataset
from infodyn.metrics import LayerTransferEntropy
from infodyn.models import ResNet
from infodyn.monitor import records_of
from infodyn.store import Array, Scalar

GOAL = 1e-6
SPLIT = "train"
FEATURES_LAYER = "head:input"


def _data(size: int) -> tuple[Tensor, Tensor, int]:
    data = load_dataset("digits", seed=0)
    x = data.x_train.reshape(-1, 1, 8, 8)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x, data.y_train, data.num_classes


def _model(args: argparse.Namespace, num_classes: int) -> ResNet:
    torch.manual_seed(args.seed)
    return ResNet(num_classes, channels=args.channels, blocks=args.blocks)


def _rank_batches(
    n: int, world: int, rank: int, epoch: int, args: argparse.Namespace
) -> list[Tensor]:
    """The index batches ``rank`` trains on in ``epoch``: DistributedSampler's share, in order,
    without the last incomplete batch (a batch of 2 may hold one class, for which MIR is
    undefined)."""
    positions: Any = range(n)  # a sampler needs only len() of its dataset
    sampler: DistributedSampler[int] = DistributedSampler(
        positions, num_replicas=world, rank=rank, shuffle=True, seed=args.seed
    )
    sampler.set_epoch(epoch)
    size = args.batch // world
    return [b for b in torch.tensor(list(sampler)).split(size) if b.numel() == size]


def _steps_per_epoch(n: int, world: int, args: argparse.Namespace) -> int:
    return len(_rank_batches(n, world, 0, 0, args))


def run_ddp(args: argparse.Namespace, out: Path) -> float:
    """Train under DDP on this rank; rank 0 writes ``out/ddp.sqlite``. Returns the wall time."""
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y, classes = _data(args.size)
    model = _model(args, classes)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    per_epoch = _steps_per_epoch(x.shape[0], world, args)
    store = RunStore(out / "ddp.sqlite") if rank == 0 else None
    metrics = family_metrics(model.block_names, classes)
    monitor = Monitor(
        model,
        store,
        {name: Probe(m, every(per_epoch), mode="live") for name, m in metrics.items()},
    )
    start = time.perf_counter()
    step = 0
    for epoch in range(args.epochs):
        for index in _rank_batches(x.shape[0], world, rank, epoch, args):
            step += 1
            xb, yb = x[index], y[index]
            with monitor.live(step, SPLIT) as live:
                loss = F.cross_entropy(ddp(xb), yb)
                live.batch(xb, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            monitor.flush()
    elapsed = time.perf_counter() - start
    if store is not None:
        store.close()
    return elapsed


#: One rank's batches of an epoch, in order: every metric input of each batch, by name.
RankBatches = list[dict[str, Any]]


class ReferenceTap:
    """Plain forward hooks on the reference model (independent of infodyn's tap)."""

    def __init__(self, model: ResNet) -> None:
        self.model = model
        self.outputs: dict[str, Tensor] = {}
        self.features: Tensor | None = None
        modules = dict(model.named_modules())
        self.handles = [
            modules[name].register_forward_hook(self._keeper(name)) for name in model.block_names
        ]
        self.handles.append(model.head.register_forward_pre_hook(self._keep_features))

    def _keeper(self, name: str) -> Callable[..., None]:
        def keep(_module: nn.Module, _args: Any, output: Tensor) -> None:
            self.outputs[name] = output.detach().clone()

        return keep

    def _keep_features(self, _module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self.features = args[0].detach().clone()

    def forward(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """The logits (in the graph) and everything a metric may take from this batch."""
        logits = self.model(xb)
        assert self.features is not None
        inputs = {
            "features": self.features,
            "labels": yb,
            "inputs": xb,
            "logits": logits.detach().clone(),
            "activations": dict(self.outputs),
            "head_weight": self.model.head.weight.detach().clone(),
            "head_bias": self.model.head.bias.detach().clone(),
        }
        return logits, inputs


def _feed(metric: Any, batch: Mapping[str, Any]) -> None:
    metric.update(**{name: batch[name] for name in metric.inputs})


Records = dict[tuple[int, str, str, str], tuple[str, np.ndarray]]


def _records(
    metrics: Mapping[str, Metric], captured: Sequence[RankBatches], step: int, by_rank: bool
) -> Records:
    """The metrics fed the captured batches (``by_rank``: rank after rank, else interleaved),
    computed and reset — as the monitor does, so state kept across records (NC4's class means
    of the previous record) carries over. Keyed like the store (step, split, metric, layer);
    each value with its family's name.
    """
    out: Records = {}
    for family, metric in metrics.items():
        if by_rank:
            for rank, part in enumerate(captured):
                if rank and isinstance(metric, LayerTransferEntropy):
                    metric.new_series()  # each rank's stream is its own trial
                for batch in part:
                    _feed(metric, batch)
        else:
            for batches in zip(*captured, strict=True):
                for batch in batches:
                    _feed(metric, batch)
        scalars, arrays = records_of(
            metric, metric.compute(), FEATURES_LAYER, step=step, split=SPLIT, mode="live"
        )
        metric.reset()
        for record in itertools.chain[Scalar | Array](scalars, arrays):
            key = (record.step, record.split, record.metric, record.layer)
            out[key] = (family, np.asarray(record.value, dtype=np.float64))
    return out


def run_reference(args: argparse.Namespace, world: int) -> tuple[float, Records, Records]:
    """One process, every rank's batches: (wall time, records by rank, records interleaved)."""
    x, y, classes = _data(args.size)
    model = _model(args, classes)
    tap = ReferenceTap(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    start = time.perf_counter()
    by_rank: Records = {}
    interleaved: Records = {}
    ranked_metrics = family_metrics(model.block_names, classes)
    interleaved_metrics = family_metrics(model.block_names, classes)
    step = 0
    for epoch in range(args.epochs):
        shares = [_rank_batches(x.shape[0], world, r, epoch, args) for r in range(world)]
        captured: list[RankBatches] = [[] for _ in range(world)]
        for indices in zip(*shares, strict=True):
            step += 1
            losses = []
            for rank, index in enumerate(indices):
                logits, inputs = tap.forward(x[index], y[index])
                losses.append(F.cross_entropy(logits, y[index]))
                captured[rank].append(inputs)
            optimizer.zero_grad()
            (torch.stack(losses).sum() / world).backward()
            optimizer.step()
        by_rank |= _records(ranked_metrics, captured, step, by_rank=True)
        interleaved |= _records(interleaved_metrics, captured, step, by_rank=False)
    return time.perf_counter() - start, by_rank, interleaved


def differences(
    got: Mapping[tuple[int, str, str, str], np.ndarray], expected: Records
) -> dict[str, float]:
    """Largest |Δ| / max(1, |expected|) per family; every key must be on both sides."""
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise SystemExit(f"records differ in keys: missing {missing[:5]}, extra {extra[:5]}")
    worst: dict[str, float] = {}
    for key, (family, want) in expected.items():
        have = got[key]
        if have.shape != want.shape:
            raise SystemExit(f"{key}: shape {have.shape} against {want.shape}")
        both_nan = np.isnan(have) & np.isnan(want)
        gap = np.where(both_nan, 0.0, np.abs(have - want) / np.maximum(1.0, np.abs(want)))
        worst[family] = max(worst.get(family, 0.0), float(np.nan_to_num(gap, nan=np.inf).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="global batch (split over ranks)")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--size", type=int, default=8, help="image side (digits are 8×8)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for ddp.sqlite")
    args = parser.parse_args()
    torch.set_num_threads(1)  # two ranks on two cores
    if "RANK" not in os.environ:
        raise SystemExit(
            "launch with torchrun: torchrun --standalone --nproc_per_node 2 " + __file__
        )
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch % world:
        raise SystemExit(f"--batch {args.batch} must be a multiple of the {world} ranks")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        try:
            ddp_seconds = run_ddp(args, out)
        finally:
            dist.destroy_process_group()
        if rank != 0:
            return
        reference_seconds, by_rank, interleaved = run_reference(args, world)
        store = RunStore(out / "ddp.sqlite", readonly=True)
        got = {
            (r.step, r.split, r.metric, r.layer): np.asarray(r.value, dtype=np.float64)
            for r in itertools.chain[Scalar | Array](store.scalars(), store.arrays())
        }
        store.close()
    worst = differences(got, by_rank)
    naive = differences(got, interleaved)
    params = sum(
        p.numel() for p in ResNet(10, channels=args.channels, blocks=args.blocks).parameters()
    )
    print(
        f"ResNet {args.blocks} blocks × {args.channels} channels ({params:,} parameters), digits "
        f"{args.size}×{args.size}, global batch {args.batch} over {world} gloo ranks, "
        f"{args.epochs} epochs; {len(got)} records compared"
    )
    for family in sorted(worst):
        print(
            f"  {family:<18} max |Δ| {worst[family]:.2e}   (one interleaved stream instead: "
            f"{naive[family]:.2e})"
        )
    met = max(worst.values()) <= GOAL
    print(
        f"DDP {ddp_seconds:.1f} s (2 ranks × 1 thread), one-process reference "
        f"{reference_seconds:.1f} s; goal max |Δ| ≤ {GOAL:g}: {'met' if met else 'NOT met'}"
    )
    summary = {"records": len(got), "max_diff": worst, "interleaved_diff": naive, "met": met}
    print(json.dumps(summary))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
