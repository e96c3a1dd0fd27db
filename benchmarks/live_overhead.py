"""Every family recorded live, every epoch, on a ResNet-style CNN: the cost against the bare loop.

A residual CNN (``infodyn.models.ResNet``: a stem convolution, ``--blocks`` residual blocks of
two 3×3 convolutions with BatchNorm, global average pooling, a linear head; 0.30 M parameters
at the defaults) trains
on scikit-learn's digits (1,347 training samples; 8×8 images, upsampled bilinearly to
``--size`` — 16 by default — because at 8×8 a training step is so cheap that the epoch-end
estimators dominate; ``--size 8`` measures that case) with SGD. The monitored loop is
the same loop with an infodyn ``Monitor`` whose probes all take the training forward passes
(``mode="live"``, no second pass) and record at the end of every epoch:

* MIR/HDR (``MatrixInformation``, the mean over the epoch's batches),
* TE between the outputs of consecutive residual blocks and the softmax (channel means as
  neurons: ``--blocks`` adjacent pairs),
* ``NeuralCollapse`` (NC1 included),
* the information plane with nHSIC (``InformationPlane``, its sample cap),
* D_LR (``Richness``).

Bare and monitored runs alternate in interleaved pairs (the order flips every pair) in one
process, each from the same seed. Printed: each pair's ratio and the overall one (goal
≤ 1.10×), the monitor's own time split by family and by part (store, hooks), and the peak
resident memory of each kind of run (each measured in a fresh subprocess).

    python benchmarks/live_overhead.py                   # 4 pairs × 5 epochs, 1 thread
    python benchmarks/live_overhead.py --pairs 2 --epochs 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from _bench import print_machine_header
from _live import family_metrics
from infodyn import Monitor, Probe, RunStore, every
from infodyn.data import load_dataset
from infodyn.models import ResNet

GOAL = 1.10


def probes(blocks: int, steps_per_epoch: int, classes: int) -> dict[str, Probe]:
    layers = [f"blocks.{i}" for i in range(blocks)]
    at_epoch_end = every(steps_per_epoch)
    metrics = family_metrics(layers, classes)
    return {name: Probe(metric, at_epoch_end, mode="live") for name, metric in metrics.items()}


def train(args: argparse.Namespace, monitored: bool) -> tuple[float, dict[str, float]]:
    """One training run; its wall time and (monitored) the monitor's time by part."""
    data = load_dataset("digits", seed=0)
    x = data.x_train.reshape(-1, 1, 8, 8)  # digits: 64 pixels per sample
    if args.size != 8:  # the same images at a real CNN's resolution (bilinear)
        x = F.interpolate(x, size=(args.size, args.size), mode="bilinear", align_corners=False)
    y = data.y_train
    torch.manual_seed(args.seed)
    model = ResNet(data.num_classes, channels=args.channels, blocks=args.blocks)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = x.shape[0] // args.batch  # full batches only
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run.sqlite")
        monitor = (
            Monitor(model, store, probes(args.blocks, steps_per_epoch, data.num_classes))
            if monitored
            else None
        )
        start = time.perf_counter()
        step = 0
        for _ in range(args.epochs):
            permutation = torch.randperm(x.shape[0], generator=order)
            for lo in range(0, steps_per_epoch * args.batch, args.batch):
                index = permutation[lo : lo + args.batch]
                xb, yb = x[index], y[index]
                step += 1
                if monitor is None:
                    loss = F.cross_entropy(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    continue
                with monitor.live(step) as live:
                    loss = F.cross_entropy(model(xb), yb)
                    live.batch(xb, yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                monitor.flush()
        elapsed = time.perf_counter() - start
        timings = dict(monitor.timings) if monitor is not None else {}
        store.close()
    return elapsed, timings


def peak_memory_mib(args: argparse.Namespace, monitored: bool) -> float:
    """Peak resident memory of one run in a fresh process (MiB)."""
    command = [
        sys.executable,
        __file__,
        "--memory-of",
        "monitored" if monitored else "bare",
        *(f"--{k}={v}" for k, v in vars(args).items() if k not in ("memory_of", "pairs")),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument(
        "--size", type=int, default=16, help="image side: digits are 8×8, upsampled above that"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-of", choices=("bare", "monitored"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of is not None:
        train(args, args.memory_of == "monitored")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"peak_mib": peak}))
        return

    params = sum(
        p.numel() for p in ResNet(10, channels=args.channels, blocks=args.blocks).parameters()
    )
    print_machine_header(
        f"ResNet {args.blocks} blocks × {args.channels} channels ({params:,} parameters), "
        f"digits 1,347 × {args.size}×{args.size}, batch {args.batch} (full batches only), "
        f"{args.epochs} epochs per run, {args.pairs} interleaved pairs",
    )
    train(args, monitored=True)  # warm-up: imports, allocator, first-call costs
    bare_total = monitored_total = 0.0
    split: dict[str, float] = {}
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        times = {}
        for monitored in order:
            elapsed, timings = train(args, monitored)
            times[monitored] = elapsed
            for part, seconds in timings.items():
                split[part] = split.get(part, 0.0) + seconds
        bare_total += times[False]
        monitored_total += times[True]
        print(
            f"pair {pair + 1}: bare {times[False]:.2f} s, monitored {times[True]:.2f} s, "
            f"ratio {times[True] / times[False]:.3f}"
        )
    ratio = monitored_total / bare_total
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"overall: bare {bare_total:.2f} s, monitored {monitored_total:.2f} s, ratio "
          f"{ratio:.3f} (goal ≤ {GOAL:.2f}: {verdict})")  # fmt: skip
    inside = sum(split.values())
    print(f"time inside the monitor: {inside:.2f} s = {100 * inside / bare_total:.1f} % of bare")
    for part, seconds in sorted(split.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<20} {seconds:7.3f} s  ({100 * seconds / bare_total:5.2f} % of bare)")
    bare_mib, monitored_mib = peak_memory_mib(args, False), peak_memory_mib(args, True)
    print(f"peak RSS: bare {bare_mib:.0f} MiB, monitored {monitored_mib:.0f} MiB "
          f"(+{monitored_mib - bare_mib:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
