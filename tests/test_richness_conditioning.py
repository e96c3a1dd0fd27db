"""D_LR near collapse follows the conditioning of the head, not only the features' collapse.

On features collapsed onto a simplex ETF with a small within-class spread σ, the outputs are
nearly linearly dependent on the class indicators: F = Y·M + σ·E·Wᵀ with M the head's C×C
class-logit matrix. The projector onto span{F} (either reading) weighs every direction of that
span equally, however weakly the outputs use it, so the direction M barely uses (its smallest
singular value) is mostly noise — which the feature kernel hardly carries. Same features,
different heads: D_LR moves by two orders of magnitude (``benchmarks/richness_conditioning.py``
prints the table; docs/dynamical-richness.md states it).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch

from infodyn.functional.richness import d_lr
from richness_cases import class_logit_matrix, collapsed, conditioned_outputs

N, C = 2000, 10
LABELS = torch.arange(N) % C
KAPPAS = (1, 3, 10, 30, 100, 300, 1000)


def _both(phi: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    return float(d_lr(phi, out)), float(d_lr(phi, out, span="outputs_and_constant"))


def test_conditioned_head_has_the_asked_condition_number() -> None:
    phi, _ = collapsed(0, labels=LABELS, noise=1e-2)
    for kappa in (1, 30, 1000):
        m = class_logit_matrix(conditioned_outputs(phi, LABELS, kappa, seed=0), LABELS)
        s = torch.linalg.svdvals(m)
        assert float(s[0] / s[-1]) == pytest.approx(kappa, rel=1e-6)
        assert float(s[0]) == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_same_features_read_richer_or_lazier_with_the_heads_conditioning(seed: int) -> None:
    phi, _ = collapsed(seed, labels=LABELS, noise=1e-2)
    values = [_both(phi, conditioned_outputs(phi, LABELS, k, seed=seed)) for k in KAPPAS]
    default, with_constant = zip(*values, strict=True)
    assert all(a < b for a, b in pairwise(default)), default
    assert all(a < b for a, b in pairwise(with_constant)), with_constant
    # measured: 0.0019 → 0.55 (outputs), 0.053 → 0.53 (with constant), seeds 0 and 1
    assert default[0] < 0.003 and default[-1] > 0.5
    assert 0.05 < with_constant[0] < 0.055 and with_constant[-1] > 0.5


def test_well_conditioned_head_reads_quadratically_in_the_spread() -> None:
    """With κ = 1 the default reading grows like σ² (×100 for 10× the spread); a poorly
    conditioned head breaks the quadratic law long before σ reaches the class-mean scale."""
    ratio = []
    for kappa in (1, 1000):
        vals = []
        for noise in (1e-3, 1e-2):
            phi, _ = collapsed(0, labels=LABELS, noise=noise)
            vals.append(float(d_lr(phi, conditioned_outputs(phi, LABELS, kappa, seed=0))))
        ratio.append(vals[1] / vals[0])
    assert ratio[0] == pytest.approx(100.0, rel=0.02)  # measured 99.8
    assert ratio[1] < 5.0  # measured 2.3: saturating


def test_random_heads_follow_the_smallest_singular_value_of_m() -> None:
    """The reference value at σ = 1e-2 (random normal heads with bias) moves with the seed
    because the head's conditioning does: log-log correlation with σ_min(M) ≈ −0.96."""
    rows = []
    for seed in range(20):
        phi, out = collapsed(seed, labels=LABELS, noise=1e-2)
        s = torch.linalg.svdvals(class_logit_matrix(out, LABELS))
        rows.append((float(s[-1]), *_both(phi, out)))
    table = np.log(np.array(rows))
    assert np.corrcoef(table[:, 0], table[:, 1])[0, 1] < -0.9  # measured −0.965
    # the other reading has its floor 1 − √(9/10) = 0.051 from the noise direction beside it
    assert np.corrcoef(table[:, 0], table[:, 2])[0, 1] < -0.3  # measured −0.48
