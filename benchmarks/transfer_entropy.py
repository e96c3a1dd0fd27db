"""All-pairs transfer entropy: infodyn against PyInform, the bare GEMM floor, and peak memory.

On two random binary layers (``--density`` = fraction of ones, seeded) of T time steps with m
source and n target neurons, this script times in one process:

1. infodyn ``transfer_entropy`` on all m×n pairs (median of ``--repeats``);
2. PyInform ``transfer_entropy(x, y, k=1)`` on ``--pairs`` seeded random pairs (columns turned
   into contiguous int32 arrays once, before timing), scaled to m·n pairs, and the largest
   |difference| between the two on the sampled pairs;
3. the floor: one bare float32 GEMM (T×m)ᵀ·(T×3n) on pre-built tensors, and the bare int8
   ``torch._int_mm`` of the same shape (the product infodyn uses on CPU);
4. the peak-RSS increase during one infodyn call, measured in a fresh subprocess of this script
   (``--measure-memory-only``) so that the parent's earlier allocations do not hide it (Linux:
   VmHWM, reset just before the call; elsewhere ru_maxrss);
5. where the time goes: ``transition_counts`` alone, ``transfer_entropy_from_counts`` alone,
   and inside the counts the 0/1 input check, building the int8 operands, and the one int8
   GEMM that yields every table and marginal;

and ends with a table of ratios against the goals (≥ 300× PyInform, ≤ 1.5× the float32 GEMM).

    python benchmarks/transfer_entropy.py                    # T = 60000, 256 × 128, 2 threads
    python benchmarks/transfer_entropy.py --threads 1 --T 20000 --m 64 --n 32 --pairs 50
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from pyinform.transferentropy import transfer_entropy as pyinform_transfer_entropy
from torch import Tensor

from _bench import (
    measure_in_subprocess,
    median_time,
    peak_increase,
    print_goal_table,
    print_machine_header,
)
from infodyn.functional import (
    transfer_entropy,
    transfer_entropy_from_counts,
    transition_counts,
)
from infodyn.functional.te import _aligned, _check_binary, _joint_block

SPEEDUP_GOAL = 300.0  # × PyInform (all pairs, scaled from the sample)
FLOOR_GOAL = 1.5  # × the bare float32 GEMM


def binary_layers(t: int, m: int, n: int, density: float, seed: int) -> tuple[Tensor, Tensor]:
    """(T, m) and (T, n) uint8 layers with P(1) = density, as a monitor would store them."""
    g = torch.Generator().manual_seed(seed)
    source = (torch.rand(t, m, generator=g) < density).to(torch.uint8)
    target = (torch.rand(t, n, generator=g) < density).to(torch.uint8)
    return source, target


def measure_memory_only(args: argparse.Namespace) -> None:
    """Child process: peak-RSS increase of one ``transfer_entropy`` call; prints one JSON line.

    Building the inputs (float32 random numbers) and importing libraries leave a peak above the
    RSS at the call, which would hide the call's own peak; where Linux allows it the peak is
    reset first. The parent also sets ``MALLOC_MMAP_THRESHOLD_`` so that freed buffers go back
    to the system instead of being reused out of sight.
    """
    source, target = binary_layers(args.T, args.m, args.n, args.density, args.seed)
    transfer_entropy(source[:64, :4], target[:64, :4])  # load kernels outside the measurement
    print(json.dumps(peak_increase(lambda: transfer_entropy(source, target))))


def memory_in_subprocess(args: argparse.Namespace) -> dict[str, float]:
    argv = [
        "--measure-memory-only",
        *("--T", str(args.T), "--m", str(args.m), "--n", str(args.n)),
        *("--density", str(args.density), "--seed", str(args.seed)),
        *("--threads", str(args.threads)),
    ]
    return measure_in_subprocess(__file__, argv)


def sample_pairs(m: int, n: int, pairs: int, seed: int) -> list[tuple[int, int]]:
    """``pairs`` distinct (i, j) drawn uniformly (all pairs if there are fewer)."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(m * n, size=min(pairs, m * n), replace=False)
    return [(int(k) // n, int(k) % n) for k in flat]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=60_000, help="time steps (training samples)")
    parser.add_argument("--m", type=int, default=256, help="source neurons")
    parser.add_argument("--n", type=int, default=128, help="target neurons")
    parser.add_argument("--density", type=float, default=0.05, help="fraction of ones")
    parser.add_argument("--pairs", type=int, default=200, help="pairs timed with PyInform")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--measure-memory-only",
        action="store_true",
        help="internal: run one infodyn call and print its peak-RSS increase as JSON",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure_memory_only:
        measure_memory_only(args)
        return

    t, m, n = args.T, args.m, args.n
    print_machine_header(
        f"T = {t}, m = {m}, n = {n} ({m * n} pairs), density = {args.density}, "
        f"repeats = {args.repeats}, seed = {args.seed}"
    )

    source, target = binary_layers(t, m, n, args.density, args.seed)
    transfer_entropy(source[:64, :4], target[:64, :4])  # warm-up: kernels, lazy imports

    # 1. infodyn on every pair.
    te = transfer_entropy(source, target)
    infodyn_s = median_time(lambda: transfer_entropy(source, target), args.repeats)

    # 2. PyInform on a sample of pairs, on int32 columns prepared before timing.
    pairs = sample_pairs(m, n, args.pairs, args.seed)
    src_cols = {i: np.ascontiguousarray(source[:, i].numpy(), dtype=np.int32) for i, _ in pairs}
    tgt_cols = {j: np.ascontiguousarray(target[:, j].numpy(), dtype=np.int32) for _, j in pairs}
    reference: list[float] = []

    def run_pyinform() -> None:
        reference[:] = [pyinform_transfer_entropy(src_cols[i], tgt_cols[j], k=1) for i, j in pairs]

    run_pyinform()  # warm-up (loads libinform)
    pyinform_s = median_time(run_pyinform, args.repeats)
    per_pair_s = pyinform_s / len(pairs)
    pyinform_all_s = per_pair_s * m * n
    ours = np.array([float(te[i, j]) for i, j in pairs])
    max_diff = float(np.abs(ours - np.array(reference)).max())

    # 3. The floor: the one product that every exact all-pairs method must do.
    a32 = source.float()
    p, f = target[:-1], target[1:]
    b32 = torch.cat([p, f, p * f], dim=1).float()
    a32 = a32[: t - 1]  # the N = T − 1 observations, as in the estimator
    torch.mm(a32.mT, b32)
    gemm_f32_s = median_time(lambda: torch.mm(a32.mT, b32), args.repeats)
    a8 = torch.empty(m, t - 1, dtype=torch.int8).copy_(source[: t - 1].mT)
    b8 = torch.empty(t - 1, 3 * n, dtype=torch.int8).copy_(b32)
    torch._int_mm(a8, b8)
    gemm_i8_s = median_time(lambda: torch._int_mm(a8, b8), args.repeats)
    flops = 2.0 * (t - 1) * m * 3 * n

    # 5. Breakdown (before the subprocess, so the parent is idle while the child measures).
    counts = transition_counts(source, target)
    counts_s = median_time(lambda: transition_counts(source, target), args.repeats)
    from_counts_s = median_time(lambda: transfer_entropy_from_counts(counts), args.repeats)

    s_obs, p_obs, f_obs = _aligned(source, target, 1)
    block_s = median_time(lambda: _joint_block(s_obs, p_obs, f_obs, 1 << 24), args.repeats)
    left = torch.empty(t - 1, m + 1, dtype=torch.int8)
    left[:, :m].copy_(s_obs)
    right = torch.empty(t - 1, 3 * n + 1, dtype=torch.int8)
    # The implementation's product: [s | 1]^T (a column-major view) times [p, f, p*f, 1].
    gemm_impl_s = median_time(lambda: torch._int_mm(left.mT, right), args.repeats)
    validation_s = median_time(
        lambda: (_check_binary("source", source), _check_binary("target", target)), args.repeats
    )
    operands_s = block_s - gemm_impl_s
    other_s = counts_s - block_s - validation_s

    # 4. Peak memory in a fresh process.
    memory = memory_in_subprocess(args)
    inputs_mib = (source.numel() + target.numel()) / 2**20
    int8_operands_mib = ((m + 1) * (t - 1) + (3 * n + 1) * (t - 1)) / 2**20
    result_mib = 8 * m * n * 8 / 2**20  # ~8 float64 (m, n) cell / intermediate tables

    print("1. infodyn transfer_entropy, all pairs")
    ns_per_pair = infodyn_s / (m * n) * 1e9
    print(f"   median time             {infodyn_s:10.4f} s   ({ns_per_pair:.1f} ns/pair)")
    print(f"2. PyInform transfer_entropy(k=1), {len(pairs)} sampled pairs (C, single-threaded)")
    print(f"   per pair                {per_pair_s * 1e3:10.4f} ms")
    print(f"   scaled to {m * n} pairs {pyinform_all_s:10.2f} s")
    print(f"   max |infodyn - PyInform| on the sample: {max_diff:.2e}  (goal <= 1e-9)")
    print(f"3. floor, (T x m)^T (T x 3n) = ({t - 1} x {m})^T ({t - 1} x {3 * n})")
    print(
        f"   float32 GEMM            {gemm_f32_s:10.4f} s   "
        f"({flops / gemm_f32_s / 1e9:.1f} GFLOP/s)"
    )
    print(f"   int8 torch._int_mm      {gemm_i8_s:10.4f} s   ({flops / gemm_i8_s / 1e9:.1f} GOP/s)")
    print("4. memory (fresh subprocess, peak RSS)")
    reset = (
        f"reset from {memory['peak_before_reset_mib']:.1f} MiB via /proc/self/clear_refs"
        if memory["reset"]
        else "not resettable here: earlier peaks may hide part of the increase"
    )
    print(f"   RSS at the call {memory['rss_before_mib']:.1f} MiB; peak {reset}")
    print(
        f"   peak {memory['peak_before_mib']:.1f} -> {memory['peak_after_mib']:.1f} MiB: "
        f"increase during the call {memory['increase_mib']:.1f} MiB"
    )
    print(
        f"   theory: uint8 inputs {inputs_mib:.1f} MiB; int8 operands {int8_operands_mib:.1f} MiB; "
        f"(m, n) float64 tables ~{result_mib:.1f} MiB"
    )
    print("5. breakdown (medians)")
    print(f"   transition_counts                {counts_s:10.4f} s")
    print(f"     input validation (0/1 check)   {validation_s:10.4f} s")
    print(f"     int8 operands [s|1], [p,f,pf,1] {operands_s:9.4f} s")
    print(f"     the int8 GEMM, with marginals  {gemm_impl_s:10.4f} s")
    print(f"     the rest (slicing, int64 adds) {other_s:10.4f} s")
    print(f"   transfer_entropy_from_counts     {from_counts_s:10.4f} s")
    print()

    speedup = pyinform_all_s / infodyn_s
    vs_f32, vs_i8 = infodyn_s / gemm_f32_s, infodyn_s / gemm_i8_s
    rows = [
        (
            "speed-up vs PyInform",
            f"{speedup:.0f}x",
            f">= {SPEEDUP_GOAL:.0f}x",
            speedup >= SPEEDUP_GOAL,
        ),
        ("time / float32 GEMM floor", f"{vs_f32:.2f}x", f"<= {FLOOR_GOAL}x", vs_f32 <= FLOOR_GOAL),
        ("time / int8 GEMM floor", f"{vs_i8:.2f}x", "(reference)", None),
        ("max |diff| vs PyInform", f"{max_diff:.1e}", "<= 1e-9", max_diff <= 1e-9),
    ]
    print_goal_table(rows, width=28)


if __name__ == "__main__":
    main()
