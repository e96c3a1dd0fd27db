"""Streaming NeuralCollapse against a straightforward NumPy implementation holding all features.

The same N × d float32 features (class means plus noise, C unbalanced classes, generated batch
by batch from ``--seed``) go through, in one run:

1. infodyn ``NeuralCollapse`` (all measures but NC4, which needs a second pass), one
   ``update`` per batch then ``compute``; and the same without NC1 (no d×d state);
2. NumPy: every batch copied into one (N, d) float64 array, then per-class means by boolean
   masks, Σ_W from the residual matrix (np.cov-style RᵀR/N), Σ_B and ``np.linalg.pinv``.

Times exclude generating the data (the same for both). Peak memory of each path is measured in
a fresh subprocess of this script (``--measure-memory-only``): Linux VmHWM, reset by writing
"5" to /proc/self/clear_refs after imports and warm-up, so only the pass itself counts. The run
ends with the largest relative difference between the two and the goals
(≥ 10× faster, ≥ 20× less memory).

    python benchmarks/neural_collapse.py                 # N = 200000, d = 512, C = 100
    python benchmarks/neural_collapse.py --n 20000 --d 128 --classes 10 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from _bench import measure_in_subprocess, peak_increase, print_goal_table, print_machine_header
from infodyn.functional.collapse import MEASURES, PINV_RTOL
from infodyn.metrics.collapse import NeuralCollapse

SPEED_GOAL = 10.0  # × faster than NumPy
MEMORY_GOAL = 20.0  # × less peak memory than NumPy


def problem(args: argparse.Namespace) -> tuple[Tensor, Tensor, Tensor]:
    """Class means (C, d), class probabilities (unbalanced) and a head weight (C, d)."""
    g = torch.Generator().manual_seed(args.seed)
    means = 3.0 * torch.randn(args.classes, args.d, generator=g)
    probs = torch.rand(args.classes, generator=g) + 0.5
    head = means + torch.randn(args.classes, args.d, generator=g)
    return means, probs / probs.sum(), head


def batches(args: argparse.Namespace) -> Iterator[tuple[Tensor, Tensor]]:
    """(features float32 (b, d), labels (b,)) batches; every class appears in the first one."""
    means, probs, _ = problem(args)
    for index, start in enumerate(range(0, args.n, args.batch)):
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + index + 1)
        size = min(args.batch, args.n - start)
        labels = torch.multinomial(probs, size, replacement=True, generator=g)
        if index == 0:
            labels[: args.classes] = torch.arange(args.classes)
        yield means[labels] + torch.randn(size, args.d, generator=g), labels


def run_infodyn(
    args: argparse.Namespace, measures: tuple[str, ...], precision: str = "exact"
) -> tuple[dict, float]:
    """Values and seconds (updates + compute, generation excluded)."""
    _, _, head = problem(args)
    metric = NeuralCollapse(
        args.classes,
        measures=measures,
        num_features=args.d,
        precision=precision,  # type: ignore[arg-type]
    )
    seconds = 0.0
    for features, labels in batches(args):
        start = time.perf_counter()
        metric.update(features, labels, head)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    values = {k: float(v) for k, v in metric.compute().items()}
    return values, seconds + time.perf_counter() - start


def numpy_measures(h: np.ndarray, y: np.ndarray, num_classes: int, w: np.ndarray) -> dict:
    """The neural-collapse definitions the direct way, on all features in memory."""
    n = h.shape[0]
    masks = [y == c for c in range(num_classes)]
    counts = np.array([m.sum() for m in masks], dtype=np.float64)
    means = np.stack([h[m].mean(axis=0) for m in masks])
    global_mean = h.mean(axis=0)
    centred = means - global_mean
    residual = h - means[y]
    sigma_w = residual.T @ residual / n
    sigma_b = centred.T @ centred / num_classes
    norms = np.linalg.norm(h, axis=1)
    class_var = np.array([(residual[m] ** 2).sum(axis=1).mean() for m in masks])
    v_w = float(np.trace(sigma_w))
    lengths = np.linalg.norm(centred, axis=1)
    v_b = float((counts / n * lengths**2).sum())
    cos = centred @ centred.T / np.outer(lengths, lengths)
    off = ~np.eye(num_classes, dtype=bool)
    gram = centred @ centred.T
    etf = (np.eye(num_classes) - 1.0 / num_classes) / np.sqrt(num_classes - 1)
    sv = np.linalg.svd(means, compute_uv=False)
    dist2 = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    pair_var = class_var[:, None] + class_var[None, :]
    return {
        "within_class_variance": v_w,
        "between_class_variance": v_b,
        "mean_feature_norm": float(norms.mean()),
        "rnc1": v_w / float(norms.mean()) ** 2,
        "nc1": float(
            np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=PINV_RTOL, hermitian=True))
            / num_classes
        ),
        "nc1_trace": v_w / v_b,
        "nc2_equinorm": float(lengths.std(ddof=1) / lengths.mean()),
        "nc2_equiangularity": float(np.abs(cos + 1.0 / (num_classes - 1))[off].mean()),
        "nc2_etf_error": float(np.linalg.norm(gram / np.linalg.norm(gram) - etf)),
        "nc2_cond": float(sv.max() / sv.min()),
        "nc3": float(((w / np.linalg.norm(w) - centred / np.linalg.norm(centred)) ** 2).sum()),
        "cdnv": float((pair_var[off] / (2 * dist2[off])).mean()),
    }


def run_numpy(args: argparse.Namespace) -> tuple[dict, float]:
    _, _, head = problem(args)
    h = np.empty((args.n, args.d), dtype=np.float64)
    y = np.empty(args.n, dtype=np.int64)
    seconds, row = 0.0, 0
    for features, labels in batches(args):
        start = time.perf_counter()
        h[row : row + len(labels)] = features.numpy()
        y[row : row + len(labels)] = labels.numpy()
        row += len(labels)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    values = numpy_measures(h, y, args.classes, head.double().numpy())
    return values, seconds + time.perf_counter() - start


def measure_memory_only(args: argparse.Namespace) -> None:
    """Child: peak-RSS increase of one whole pass of one path; prints one JSON line."""
    small = argparse.Namespace(**{**vars(args), "n": 2 * args.classes, "batch": 2 * args.classes})
    # Warm-up on a tiny problem so that kernels and lazy imports are outside the measurement.
    run = run_numpy if args.measure_memory_only == "numpy" else run_infodyn_all
    run(small)
    print(json.dumps(peak_increase(lambda: run(args))))


def run_infodyn_all(args: argparse.Namespace) -> tuple[dict, float]:
    return run_infodyn(args, MEASURES)


def memory_in_subprocess(args: argparse.Namespace, which: str) -> dict:
    argv = [
        *("--measure-memory-only", which),
        *("--n", str(args.n), "--d", str(args.d), "--classes", str(args.classes)),
        *("--batch", str(args.batch), "--threads", str(args.threads), "--seed", str(args.seed)),
    ]
    return measure_in_subprocess(__file__, argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples")
    parser.add_argument("--d", type=int, default=512, help="feature width")
    parser.add_argument("--classes", type=int, default=100, help="number of classes C")
    parser.add_argument("--batch", type=int, default=4096, help="samples per update")
    parser.add_argument("--threads", type=int, default=2, help="torch (and BLAS) threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--measure-memory-only",
        choices=("infodyn", "numpy"),
        help="internal: run one path and print its peak-RSS increase as JSON",
    )
    args = parser.parse_args()
    if args.batch < args.classes:
        parser.error("--batch must be at least --classes (the first batch covers every class)")
    torch.set_num_threads(args.threads)
    if args.measure_memory_only:
        measure_memory_only(args)
        return

    print_machine_header(
        f"N = {args.n}, d = {args.d}, C = {args.classes}, batch = {args.batch}, seed = {args.seed}",
        libraries=[
            ("numpy", f"{np.__version__} (BLAS threads: OMP/OPENBLAS env, set before start)")
        ],
    )
    small = argparse.Namespace(**{**vars(args), "n": 2 * args.classes, "batch": 2 * args.classes})
    run_infodyn(small, MEASURES)  # warm-up
    run_numpy(small)

    ours, ours_s = run_infodyn(args, MEASURES)
    fast, fast_s = run_infodyn(args, MEASURES, precision="float32")
    _, narrow_s = run_infodyn(args, tuple(m for m in MEASURES if m != "nc1"))
    theirs, theirs_s = run_numpy(args)
    mem_ours = memory_in_subprocess(args, "infodyn")
    mem_theirs = memory_in_subprocess(args, "numpy")

    print(f"{'measure':<24} {'infodyn':>14} {'numpy':>14} {'rel. diff':>10} {'float32':>10}")
    worst = worst_fast = 0.0
    for name in MEASURES:
        scale = max(abs(theirs[name]), 1e-300)
        rel = abs(ours[name] - theirs[name]) / scale
        rel_fast = abs(fast[name] - theirs[name]) / scale
        worst, worst_fast = max(worst, rel), max(worst_fast, rel_fast)
        print(f"{name:<24} {ours[name]:14.8g} {theirs[name]:14.8g} {rel:10.1e} {rel_fast:10.1e}")
    print()
    print("time (generation excluded)")
    print(f"  infodyn NeuralCollapse, all measures   {ours_s:9.3f} s")
    print(f"  the same, precision='float32'          {fast_s:9.3f} s")
    print(f"  infodyn without nc1 (no d×d state)     {narrow_s:9.3f} s")
    print(f"  numpy, all features in memory          {theirs_s:9.3f} s")
    print("peak memory increase during one pass (fresh subprocess, VmHWM)")
    for label, mem in (("infodyn", mem_ours), ("numpy", mem_theirs)):
        note = "" if mem["reset"] else "  (peak not resettable here: upper bound)"
        print(f"  {label:<8} {mem['increase_mib']:10.1f} MiB{note}")
    features_mib = args.n * args.d * 8 / 2**20
    print(f"  (all features as float64: {features_mib:.1f} MiB)")
    print()

    speed = theirs_s / ours_s
    memory = mem_theirs["increase_mib"] / max(mem_ours["increase_mib"], 1e-3)
    rows = [
        ("speed-up vs numpy", f"{speed:.1f}x", f">= {SPEED_GOAL:.0f}x", speed >= SPEED_GOAL),
        (
            "speed-up, float32",
            f"{theirs_s / fast_s:.1f}x",
            f">= {SPEED_GOAL:.0f}x",
            theirs_s / fast_s >= SPEED_GOAL,
        ),
        ("  its max rel. diff", f"{worst_fast:.1e}", "(stated)", None),
        ("speed-up, no nc1", f"{theirs_s / narrow_s:.1f}x", "(reference)", None),
        ("memory ratio", f"{memory:.1f}x", f">= {MEMORY_GOAL:.0f}x", memory >= MEMORY_GOAL),
        ("max rel. diff", f"{worst:.1e}", "<= 1e-8", worst <= 1e-8),
    ]
    print_goal_table(rows, width=22)


if __name__ == "__main__":
    main()
