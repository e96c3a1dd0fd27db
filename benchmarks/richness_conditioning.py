"""D_LR near collapse against the conditioning of the head, both readings (Nam et al. 2024).

Features collapsed onto a balanced simplex ETF (n = 2,000, p = 200, C = 10: the constructions of
``tests/richness_cases.py``, the ones the tests check) with isotropic within-class noise σ.
Part 1 keeps the features fixed and changes only the head: its C×C class-logit matrix M (the
class means of the outputs) gets singular values spaced geometrically from 10 down to 10/κ,
the head's reading of everything else held fixed; D_LR under both readings against κ, at two
spreads. Part 2 is the reference construction (random normal heads with bias, σ = 1e-2) over
seeds: D_LR against M's condition number and smallest singular value, and the log-log
correlations. A projector onto span{F} weighs each of its directions equally however weakly
the outputs use it, so the direction M hardly uses carries mostly noise, which the features'
kernel does not: D_LR reads the head's conditioning as much as the features' collapse.

    python benchmarks/richness_conditioning.py            # about 5 s on one thread
    python benchmarks/richness_conditioning.py --seeds 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from _bench import print_machine_header
from infodyn.functional.richness import d_lr

# The tests' constructions, so the printed numbers are the tested ones.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from richness_cases import class_logit_matrix, collapsed, conditioned_outputs

N, C = 2000, 10
KAPPAS = (1, 3, 10, 30, 100, 300, 1000)


def both(phi: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    """D_LR under span{F} (the default, ``d_lr``) and span{1, F} (``d_lr_with_constant``)."""
    return float(d_lr(phi, out)), float(d_lr(phi, out, span="outputs_and_constant"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="random heads in part 2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    labels = torch.arange(N) % C
    print_machine_header(f"n = {N}, p = 200, C = {C}; seeds 0–{args.seeds - 1} in part 2")

    print("1. same collapsed features (seed 0), heads whose class-logit matrix M has cond κ")
    print(f"{'κ':>6} {'σ_min(M)':>9} | {'σ = 1e-3: d_lr':>15} {'with const':>11} | "
          f"{'σ = 1e-2: d_lr':>15} {'with const':>11}")  # fmt: skip
    features = {s: collapsed(0, labels=labels, noise=s)[0] for s in (1e-3, 1e-2)}
    for kappa in KAPPAS:
        cells = []
        for phi in features.values():
            out = conditioned_outputs(phi, labels, kappa, seed=0)
            cells.append(both(phi, out))
        smin = 10.0 / kappa
        print(f"{kappa:>6} {smin:>9.3g} | {cells[0][0]:>15.3e} {cells[0][1]:>11.4f} | "
              f"{cells[1][0]:>15.3e} {cells[1][1]:>11.4f}")  # fmt: skip

    print()
    print("2. the reference construction (random normal head with bias), σ = 1e-2, per seed")
    print(f"{'seed':>4} {'cond(M)':>9} {'σ_min(M)':>9} {'d_lr':>8} {'with const':>11}")
    rows = []
    for seed in range(args.seeds):
        phi, out = collapsed(seed, labels=labels, noise=1e-2)
        s = torch.linalg.svdvals(class_logit_matrix(out, labels))
        cond, smin = float(s[0] / s[-1]), float(s[-1])
        rows.append((cond, smin, *both(phi, out)))
        print(f"{seed:>4} {cond:>9.1f} {smin:>9.3f} {rows[-1][2]:>8.4f} {rows[-1][3]:>11.4f}")
    logs = np.log(np.array(rows))
    print()
    print("log-log correlation over the seeds   d_lr   with const")
    for j, name in ((0, "cond(M)"), (1, "σ_min(M)")):
        r = [np.corrcoef(logs[:, j], logs[:, k])[0, 1] for k in (2, 3)]
        print(f"  with {name:<30} {r[0]:+.3f}   {r[1]:+.3f}")


if __name__ == "__main__":
    main()
