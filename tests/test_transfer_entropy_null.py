"""Surrogate significance of transfer entropy: the batched null against a naive loop and theory.

The batched function stacks every surrogate source side by side and counts them in one product;
here each surrogate is rebuilt one at a time from the same generator calls and passed through
the plain :func:`transfer_entropy`, and the statistics must agree exactly. Theory for
independent binary series (JIDT's TransferEntropyCalculatorDiscrete.computeSignificance(), the
analytic χ² test): the plug-in TE is ≈ χ²₂/(2N ln 2), so the
null mean is ≈ 1/(N ln 2) bits and p-values are uniform.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from infodyn.functional import (
    TransferEntropySignificance,
    transfer_entropy,
    transfer_entropy_null,
)


def random_binary(t: int, k: int, density: float, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, k, generator=g, dtype=torch.float64) < density).long()


def coupled(t: int, seed: int) -> tuple[Tensor, Tensor]:
    """Three fair-bit sources; target 0 = source 1 one step later with 10 % flips, target 1 free."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (t, 3), generator=g)
    y = torch.randint(0, 2, (t, 2), generator=g)
    flips = (torch.rand(t - 1, generator=g) < 0.1).long()
    y[1:, 0] = x[:-1, 1] ^ flips
    return x, y


def surrogate_orders(n_obs: int, n_surrogates: int, method: str, seed: int) -> list[Tensor]:
    """The implementation's generator calls, re-derived: one randperm per surrogate ("shuffle"),
    or one batch of shifts 1 … N−1 ("circular", observation t takes source t − shift mod N)."""
    g = torch.Generator().manual_seed(seed)
    if method == "shuffle":
        return [torch.randperm(n_obs, generator=g) for _ in range(n_surrogates)]
    shifts = torch.randint(1, max(n_obs, 2), (n_surrogates, 1), generator=g)
    return list((torch.arange(n_obs)[None, :] - shifts) % n_obs)


def naive_null(
    source: Tensor, target: Tensor, n_surrogates: int, seed: int, method: str, delay: int
) -> TransferEntropySignificance:
    """One surrogate at a time: reorder the source observations s = x_{t−u}, keep the target."""
    t = source.shape[0]
    start = max(delay, 1)
    rows = slice(start - delay, t - delay)  # the rows of x that serve as s for t = start … T−1
    observations = source[rows]
    values = []
    for order in surrogate_orders(t - start, n_surrogates, method, seed):
        surrogate = source.clone()
        surrogate[rows] = observations[order]
        values.append(transfer_entropy(surrogate, target, delay=delay))
    null = torch.stack(values)
    observed = transfer_entropy(source, target, delay=delay)
    exceed = (null >= observed - 1e-12).sum(0)
    return TransferEntropySignificance(
        te=observed,
        p_value=(1.0 + exceed.double()) / (1.0 + n_surrogates),
        null_mean=null.mean(0),
        null_std=null.std(0, correction=0),
        null_pair_mean=null.mean(dim=(1, 2)),
    )


def assert_same(a: TransferEntropySignificance, b: TransferEntropySignificance) -> None:
    for name, u, v in zip(a._fields, a, b, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-15, msg=name)


# --------------------------------------------------------------------------------------------
# The batched null equals the surrogate-by-surrogate loop
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["shuffle", "circular"])
@pytest.mark.parametrize("delay", [0, 1, 2])
def test_batched_null_equals_naive_loop(method: str, delay: int) -> None:
    x, y = coupled(300, seed=1)
    x = torch.cat([x, random_binary(300, 2, 0.2, seed=2)], dim=1)
    result = transfer_entropy_null(x, y, n_surrogates=25, seed=7, method=method, delay=delay)
    assert_same(result, naive_null(x, y, 25, 7, method, delay))
    assert all(v.shape == (5, 2) and v.dtype == torch.float64 for v in result[:4])
    assert result.null_pair_mean.shape == (25,) and result.null_pair_mean.dtype == torch.float64
    # the pair mean of the per-pair null means is the mean of the surrogates' pair means
    torch.testing.assert_close(result.null_pair_mean.mean(), result.null_mean.mean())


def test_naive_loop_depends_on_the_permutations() -> None:
    """Sanity of the exact comparison: another seed's permutations give another null."""
    x, y = coupled(300, seed=1)
    result = transfer_entropy_null(x, y, n_surrogates=25, seed=7)
    other = naive_null(x, y, 25, 8, "shuffle", 1)
    assert not torch.equal(result.null_mean, other.null_mean)


@pytest.mark.parametrize("max_elements", [1, 299 * 3 * 3, 299 * 3 * 7 + 5])
def test_surrogate_grouping_does_not_change_results(max_elements: int) -> None:
    x, y = coupled(300, seed=3)
    one_group = transfer_entropy_null(x, y, n_surrogates=20, seed=4)
    grouped = transfer_entropy_null(x, y, n_surrogates=20, seed=4, max_elements=max_elements)
    for u, v in zip(one_group, grouped, strict=True):
        assert torch.equal(u, v)


def test_fixed_seed_reproduces_and_other_seed_differs() -> None:
    x, y = coupled(500, seed=5)
    first = transfer_entropy_null(x, y, n_surrogates=30, seed=11)
    again = transfer_entropy_null(x, y, n_surrogates=30, seed=11)
    other = transfer_entropy_null(x, y, n_surrogates=30, seed=12)
    for u, v in zip(first, again, strict=True):
        assert torch.equal(u, v)
    assert torch.equal(first.te, other.te)
    assert not torch.equal(first.null_mean, other.null_mean)


def test_observed_te_is_transfer_entropy() -> None:
    x, y = coupled(400, seed=6)
    for delay in (0, 1, 3):
        result = transfer_entropy_null(x, y, n_surrogates=5, delay=delay)
        assert torch.equal(result.te, transfer_entropy(x, y, delay=delay))


@pytest.mark.parametrize("method", ["shuffle", "circular"])
def test_shortest_series(method: str) -> None:
    x, y = torch.tensor([[0], [1]]), torch.tensor([[1], [0]])  # one observation: TE = 0
    result = transfer_entropy_null(x, y, n_surrogates=4, method=method)
    assert float(result.te) == 0.0 and float(result.null_mean) == 0.0
    assert float(result.p_value) == 1.0  # every surrogate ties with the observed value


# --------------------------------------------------------------------------------------------
# Against theory
# --------------------------------------------------------------------------------------------


def test_independent_series_null_matches_plug_in_bias() -> None:
    t, n_surrogates = 4001, 200
    x, y = random_binary(t, 8, 0.5, seed=20), random_binary(t, 8, 0.3, seed=21)
    result = transfer_entropy_null(x, y, n_surrogates=n_surrogates, seed=22)
    bias = 1 / ((t - 1) * math.log(2))  # E[χ²₂ / (2N ln 2)] bits (§8.2)
    assert float(result.null_mean.mean()) == pytest.approx(bias, rel=0.2)
    # χ²₂/(2N ln 2) has std equal to its mean.
    assert float(result.null_std.mean()) == pytest.approx(bias, rel=0.3)
    # The observed TE of independent series is a draw from the same distribution: its mean over
    # the 64 pairs lies within 3 standard errors of the null mean.
    standard_error = float(result.null_std.mean()) / math.sqrt(result.te.numel())
    assert abs(float(result.te.mean() - result.null_mean.mean())) < 3 * standard_error
    # p-values roughly uniform on {1/201, …, 1}.
    p = result.p_value
    assert float((p < 0.05).double().mean()) < 0.2
    assert 0.3 < float(p.mean()) < 0.7
    grid = p * (n_surrogates + 1)
    assert float((grid - grid.round()).abs().max()) < 1e-9


@pytest.mark.parametrize("method", ["shuffle", "circular"])
def test_coupled_pair_gets_the_smallest_p_value(method: str) -> None:
    x, y = coupled(2000, seed=30)
    n_surrogates = 99
    result = transfer_entropy_null(x, y, n_surrogates=n_surrogates, seed=31, method=method)
    assert float(result.p_value[1, 0]) == pytest.approx(1 / (n_surrogates + 1), abs=1e-15)
    assert float(result.te[1, 0]) > 0.4  # 1 − H(0.1) ≈ 0.53 bits
    assert float(result.te[1, 0]) > 100 * float(result.null_mean[1, 0] + result.null_std[1, 0])
    # The free target and the uncoupled sources stay insignificant on average.
    others = torch.cat([result.p_value[:, 1], result.p_value[[0, 2], 0]])
    assert float(others.mean()) > 0.2


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_surrogates", [0, -3, 2.5, True])
def test_bad_surrogate_count_is_rejected(n_surrogates: object) -> None:
    x = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="n_surrogates must be an integer >= 1, got"):
        transfer_entropy_null(x, x, n_surrogates=n_surrogates)


def test_unknown_method_is_rejected() -> None:
    x = torch.zeros(10, 2)
    with pytest.raises(
        ValueError, match="method must be one of 'shuffle', 'circular'; got 'permute'"
    ):
        transfer_entropy_null(x, x, method="permute")


def test_inputs_are_validated_like_transfer_entropy() -> None:
    ok = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="source must be binary"):
        transfer_entropy_null(ok + 2, ok)
    with pytest.raises(ValueError, match="source has 10 time steps but target has 9"):
        transfer_entropy_null(ok, ok[:9])
    with pytest.raises(ValueError, match="delay must be an integer >= 0"):
        transfer_entropy_null(ok, ok, delay=-1)
