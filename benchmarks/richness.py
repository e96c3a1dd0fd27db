"""Speed and agreement of infodyn's D_LR (and curves) against the literal n×n definition.

The naive route is the definition (Nam et al. 2024) taken literally: build the float64 n×n
kernel K = ΦΦᵀ, centre it (HKH), build the n×n orthogonal projection P onto the learned span —
span{f̂_1, …, f̂_C} (``span="outputs"``, the default) from a QR of F, or span{1, f̂_c}
(``span="outputs_and_constant"``) from a QR of [1, F] — centre it (HPH), and take
1 − ⟨HKH, HPH⟩_F / (‖HKH‖_F ‖HPH‖_F). infodyn never forms an n×n matrix: thin SVD of F (or
F_c) and the p×p Gram Φ_cᵀΦ_c (or the n×n one when n < p). With ``--curves`` it also times the
utilisation curve Π̂(k) against Nyström eigenfunctions from the n×n eigenproblem of ΦΦᵀ/n
(O(n³): slow at n = 10,000). Same data, same process; median wall time of ``--repeats`` runs,
speed-up and |difference|.

    python benchmarks/richness.py                                   # n = 10000, p = 2048
    python benchmarks/richness.py --n 2000 --p 256 --threads 1      # a quick check
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from _bench import print_machine_header, timed
from infodyn.functional.richness import Span, d_lr, richness

F64 = torch.float64


def naive_d_lr(features: Tensor, outputs: Tensor, span: Span = "outputs") -> Tensor:
    """1 − CKA(ΦΦᵀ, P_{span{F}}) (or P_{span{1, F}}) with explicit n×n matrices, centred in
    place. F (and [1, F]) must have full column rank: the QR has no rank tolerance."""
    phi, out = features.to(F64), outputs.to(F64)
    n = phi.shape[0]
    k = phi @ phi.T
    _centre_in_place(k)
    if span == "outputs_and_constant":
        out = torch.cat([torch.ones(n, 1, dtype=F64), out], dim=1)
    basis, _ = torch.linalg.qr(out)
    proj = basis @ basis.T
    _centre_in_place(proj)
    inner = torch.dot(k.view(-1), proj.view(-1))
    return 1.0 - inner / (torch.linalg.matrix_norm(k) * torch.linalg.matrix_norm(proj))


def _centre_in_place(m: Tensor) -> None:
    """M ← HMH for a symmetric n×n M, without another n×n temporary."""
    means = m.mean(dim=0)
    m.sub_(means[None, :]).sub_(means[:, None]).add_(means.mean())


def naive_utilization(features: Tensor, outputs: Tensor) -> Tensor:
    """Π̂(k) from the n×n eigenproblem of ΦΦᵀ/n: e_k = √n·u_k, ⟨e_k|f⟩ = u_kᵀf/√n."""
    phi, out = features.to(F64), outputs.to(F64)
    n, p = phi.shape
    _, u = torch.linalg.eigh(phi @ phi.T / n)
    u = u.flip(1)[:, :p]
    share = (u.T @ out).square().sum(dim=1) / out.square().sum()
    return share.cumsum(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples (rows)")
    parser.add_argument("--p", type=int, default=2048, help="feature dimension")
    parser.add_argument("--classes", type=int, default=10, help="output columns C")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per route")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--curves", action="store_true", help="also time Π̂(k) (naive: n³)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    n, p, c = args.n, args.p, args.classes

    print_machine_header(
        f"n = {n}, p = {p}, C = {c}, repeats = {args.repeats}",
        notes=[("naive memory", f"~{3 * n * n * 8 / 2**30:.1f} GiB of n×n float64")],
    )

    head = torch.randn(c, p, generator=g, dtype=F64)
    bias = torch.randn(c, generator=g, dtype=F64)
    lazy = torch.randn(n, p, generator=g, dtype=F64) * torch.logspace(0, -2, p, dtype=F64)
    labels = torch.randint(0, c, (n,), generator=g)
    means = torch.randn(c, p, generator=g, dtype=F64)
    rich = means[labels] + 0.3 * torch.randn(n, p, generator=g, dtype=F64)
    cases: list[tuple[str, Callable[[], Tensor], Callable[[], Tensor]]] = []
    readings: list[tuple[str, Tensor, Span]] = [
        ("decaying Gaussian", lazy, "outputs"),
        ("near-collapsed", rich, "outputs"),
        ("near-collapsed, with 1", rich, "outputs_and_constant"),
    ]
    for name, phi, span in readings:
        out = phi @ head.T + bias
        cases.append(
            (
                f"D_LR  {name} ({n}x{p})",
                partial(d_lr, phi, out, span=span),
                partial(naive_d_lr, phi, out, span),
            )
        )
    if args.curves:
        out = lazy @ head.T  # bias-free: the n×n route has no bias column to add
        cases.append(
            (
                f"Π̂(k)  decaying Gaussian ({n}x{p})",
                lambda: richness(lazy, out).utilization_cumulative,
                lambda: naive_utilization(lazy, out),
            )
        )

    d_lr(lazy[:64, :8], lazy[:64, :8] @ head[:, :8].T)  # warm up outside the timings
    header = f"{'quantity':<44} {'value':>9} {'infodyn s':>10} {'naive s':>10} "
    header += f"{'speed-up':>9} {'|diff|':>9}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name, ours, naive in cases:
        t_ours, v_ours = timed(ours, args.repeats)
        t_naive, v_naive = timed(naive, args.repeats)
        diff = float((v_ours - v_naive).abs().max())
        worst = max(worst, diff)
        value = float(v_ours.reshape(-1)[-1] if v_ours.ndim else v_ours)
        print(
            f"{name:<44} {value:>9.5f} {t_ours:>10.4f} {t_naive:>10.4f} "
            f"{t_naive / t_ours:>8.1f}x {diff:>9.1e}"
        )
    print()
    verdict = "meets" if worst <= 1e-8 else "MISSES"
    print(f"largest |difference| {worst:.1e}: {verdict} the 1e-8 goal")


if __name__ == "__main__":
    main()
