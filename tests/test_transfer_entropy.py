"""Transfer entropy of all neuron pairs, count tables and binarization.

Layers: closed forms and published test vectors (PyInform's doctests and unit tests, and the
hand-derivable series of its documentation);
value-for-value agreement with PyInform ``transfer_entropy(x, y, k=1)`` and with the brute-force
loop in ``reference/transfer_entropy_reference.py`` (which also covers delays PyInform lacks);
invariances (neuron permutations, dtypes, chunking); streaming = one-shot; error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pyinform.transferentropy import transfer_entropy as pyinform_te
from torch import Tensor

from infodyn.functional import (
    TransitionCounts,
    binarize,
    binarize_fixed,
    transfer_entropy,
    transfer_entropy_from_counts,
    transition_counts,
)
from reference.transfer_entropy_reference import (
    transfer_entropy_matrix,
    transfer_entropy_pair,
    transition_triples,
)

# PyInform's documentation series (``pyinform.transferentropy`` docstring): y_t = x_{t−1}.
DOC_X = [0, 1, 1, 1, 1, 0, 0, 0, 0]
DOC_Y = [0, 0, 1, 1, 1, 1, 0, 0, 0]


def column(values: list[int]) -> Tensor:
    return torch.tensor(values)[:, None]


def random_binary(t: int, k: int, density: float, seed: int) -> Tensor:
    """(t, k) int64 0/1 with P(1) = density."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, k, generator=g, dtype=torch.float64) < density).long()


def coupled_layers(
    t: int, m: int, n: int, flip: float, seed: int
) -> tuple[Tensor, Tensor, list[int]]:
    """Fair-bit sources; target j = source ``true[j]`` one step later, bits flipped w.p. flip."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (t, m), generator=g)
    true = torch.randperm(m, generator=g)[:n].tolist()
    noise = (torch.rand(t, n, generator=g) < flip).long()
    y = torch.randint(0, 2, (t, n), generator=g)
    y[1:] = x[:-1, true] ^ noise[1:]
    return x, y, true


def pyinform_matrix(source: Tensor, target: Tensor) -> np.ndarray:
    """PyInform's TE(source_i → target_j, k=1) for every pair; columns made int32 once."""
    src = [np.ascontiguousarray(c, dtype=np.int32) for c in source.numpy().T]
    tgt = [np.ascontiguousarray(c, dtype=np.int32) for c in target.numpy().T]
    return np.array([[pyinform_te(s, y, k=1) for y in tgt] for s in src])


def with_special_columns(x: Tensor) -> Tensor:
    """Append an all-zero, an all-one, a single-one and an alternating column."""
    t = x.shape[0]
    single = torch.zeros(t, dtype=x.dtype)
    single[t // 2] = 1
    alternating = torch.arange(t, dtype=x.dtype) % 2
    special = torch.stack(
        [torch.zeros(t, dtype=x.dtype), torch.ones(t, dtype=x.dtype), single, alternating], dim=1
    )
    return torch.cat([x, special], dim=1)


# --------------------------------------------------------------------------------------------
# Closed forms and PyInform's published vectors (its doctests and test_transferentropy.py)
# --------------------------------------------------------------------------------------------


def test_hand_derivable_example() -> None:
    x, y = column(DOC_X), column(DOC_Y)
    assert float(transfer_entropy(x, y)) == pytest.approx(0.8112781244591328, abs=1e-12)
    assert float(transfer_entropy(y, x)) == pytest.approx(0.12255624891826564, abs=1e-12)
    # The same numbers from both layers at once: [x, y] → [x, y] holds both off-diagonal pairs.
    both = torch.cat([x, y], dim=1)
    te = transfer_entropy(both, both)
    assert te[0, 1] == pytest.approx(0.8112781244591328, abs=1e-12)
    assert te[1, 0] == pytest.approx(0.12255624891826564, abs=1e-12)
    assert te.dtype == torch.float64 and te.shape == (2, 2)


def test_vector_i_pyinform_unit_test_series() -> None:
    xs, ys = column([0, 0, 1, 1, 1, 0, 0, 0, 0, 1]), column([1, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    assert float(transfer_entropy(ys, xs)) == pytest.approx(0.3060986113514965, abs=1e-12)
    assert float(transfer_entropy(xs, ys)) == pytest.approx(0.1272496697474063, abs=1e-12)


def test_vector_g_rows_concatenated() -> None:
    xs = [[1, 0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0, 1, 1]]
    ys = [[0, 0, 1, 1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 1, 1, 1, 0]]
    x, y = column(xs[0] + xs[1]), column(ys[0] + ys[1])
    assert float(transfer_entropy(x, y)) == pytest.approx(0.6916720635184609, abs=1e-12)


def test_vector_k_self_transfer_is_zero() -> None:
    x = torch.cat([random_binary(500, 3, 0.4, seed=1), column(DOC_X * 55 + [0] * 5)], dim=1)
    te = transfer_entropy(x, x)
    # TE(x→x): the source state x_{t−1} is the target past, so it adds nothing.
    assert torch.diagonal(te).abs().max() < 1e-12
    assert te.min() >= 0.0


@pytest.mark.parametrize("value", [0, 1])
def test_vector_l_constant_target_is_zero(value: int) -> None:
    x = random_binary(300, 4, 0.5, seed=2)
    y = torch.full((300, 3), value)
    assert torch.equal(transfer_entropy(x, y), torch.zeros(4, 3, dtype=torch.float64))


def test_lagged_copy_of_fair_bits_carries_one_bit() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 2, (20_000, 1), generator=g)
    y = torch.roll(x, 1, 0)  # y_t = x_{t−1}
    assert float(transfer_entropy(x, y)) == pytest.approx(1.0, abs=0.01)
    # The reverse direction carries nothing: x_t is a fresh fair bit given x_{t−1} = y_t.
    assert float(transfer_entropy(y, x)) < 0.01
    # With the wrong alignment (same-sample, delay 0) the copy is invisible.
    assert float(transfer_entropy(x, y, delay=0)) < 0.01


# --------------------------------------------------------------------------------------------
# PyInform, value for value
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "m", "n", "density", "seed"),
    [
        (2, 3, 2, 0.5, 10),
        (3, 1, 1, 0.5, 11),
        (4, 2, 5, 0.5, 12),
        (10, 4, 3, 0.3, 13),
        (64, 3, 6, 0.1, 14),
        (257, 5, 6, 0.05, 15),
        (1000, 6, 4, 0.5, 16),
        (3001, 3, 5, 0.9, 17),
    ],
)
def test_matches_pyinform_on_random_series(
    t: int, m: int, n: int, density: float, seed: int
) -> None:
    x = with_special_columns(random_binary(t, m, density, seed))
    y = with_special_columns(random_binary(t, n, density, seed + 100))
    expected = pyinform_matrix(x, y)
    np.testing.assert_allclose(transfer_entropy(x, y).numpy(), expected, rtol=0, atol=1e-9)


def test_matches_pyinform_on_all_zero_layers() -> None:
    x, y = torch.zeros(50, 3, dtype=torch.long), torch.zeros(50, 2, dtype=torch.long)
    np.testing.assert_allclose(transfer_entropy(x, y).numpy(), pyinform_matrix(x, y), atol=1e-12)
    assert not transfer_entropy(x, y).any()


def test_coupled_targets_rank_their_source_first() -> None:
    x, y, true = coupled_layers(2000, 8, 5, flip=0.1, seed=20)
    te = transfer_entropy(x, y)
    np.testing.assert_allclose(te.numpy(), pyinform_matrix(x, y), rtol=0, atol=1e-9)
    assert te.argmax(dim=0).tolist() == true
    # A binary symmetric channel with flip 0.1 carries 1 − H(0.1) ≈ 0.531 bits.
    h = -(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    true_te = te[true, torch.arange(5)]
    assert torch.allclose(true_te, torch.full((5,), 1 - h, dtype=torch.float64), atol=0.05)


def test_pyinform_checks_would_catch_common_mistakes() -> None:
    """The data of the PyInform tests tell bits from nats, x→y from y→x and t from t±1."""
    x, y, _ = coupled_layers(1000, 4, 3, flip=0.2, seed=21)
    expected = pyinform_matrix(x, y)
    te = transfer_entropy(x, y).numpy()
    gap = 1e-3  # every mistake below moves some entry by far more than the 1e-9 tolerance
    assert np.abs(te * math.log(2) - expected).max() > gap  # natural log instead of log2
    assert np.abs(pyinform_matrix(y, x).T - expected).max() > gap  # source/target swapped
    for delay in (0, 2):  # source one step too late or too early
        assert np.abs(transfer_entropy(x, y, delay=delay).numpy() - expected).max() > gap
    # Target history one step too old: p = y_{t−2} instead of y_{t−1}.
    xn, yn = x.numpy(), y.numpy()
    stale = [
        [transfer_entropy_pair(xn[:, i], yn[:, j], past_lag=2) for j in range(3)] for i in range(4)
    ]
    assert np.abs(np.array(stale) - expected).max() > gap


# --------------------------------------------------------------------------------------------
# Brute-force reference: delay 1 (checked against PyInform) and the delays PyInform lacks
# --------------------------------------------------------------------------------------------


def test_reference_agrees_with_pyinform_and_the_hand_derivation() -> None:
    assert transfer_entropy_pair(DOC_X, DOC_Y) == pytest.approx(0.8112781244591328, abs=1e-12)
    assert transfer_entropy_pair(DOC_Y, DOC_X) == pytest.approx(0.12255624891826564, abs=1e-12)
    x, y = random_binary(400, 3, 0.3, seed=30), random_binary(400, 2, 0.6, seed=31)
    np.testing.assert_allclose(
        transfer_entropy_matrix(x.numpy(), y.numpy()), pyinform_matrix(x, y), atol=1e-12
    )


@pytest.mark.parametrize("delay", [0, 1, 2, 3])
@pytest.mark.parametrize(("t", "density", "seed"), [(5, 0.5, 40), (37, 0.3, 41), (600, 0.5, 42)])
def test_matches_brute_force_for_each_delay(t: int, density: float, seed: int, delay: int) -> None:
    x = with_special_columns(random_binary(t, 3, density, seed))
    y = with_special_columns(random_binary(t, 2, density, seed + 1))
    expected = transfer_entropy_matrix(x.numpy(), y.numpy(), delay=delay)
    np.testing.assert_allclose(
        transfer_entropy(x, y, delay=delay).numpy(), expected, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("lag", [0, 2, 3])
def test_delay_finds_the_coupling_lag(lag: int) -> None:
    g = torch.Generator().manual_seed(50 + lag)
    x = torch.randint(0, 2, (1500, 3), generator=g)
    y = torch.randint(0, 2, (1500, 2), generator=g)
    y[lag:, 0] = x[: 1500 - lag, 1]  # target 0 copies source 1 with the given lag
    expected = transfer_entropy_matrix(x.numpy(), y.numpy(), delay=lag)
    te = transfer_entropy(x, y, delay=lag)
    np.testing.assert_allclose(te.numpy(), expected, rtol=0, atol=1e-12)
    assert float(te[1, 0]) > 0.95
    # At a wrong lag the copy is invisible: the reference would catch an off-by-one.
    for other in {0, 1, 2, 3} - {lag}:
        assert float(transfer_entropy(x, y, delay=other)[1, 0]) < 0.02


def test_counts_match_brute_force_triples() -> None:
    x, y = random_binary(200, 3, 0.4, seed=60), random_binary(200, 2, 0.3, seed=61)
    for delay in (0, 1, 2):
        counts = transition_counts(x, y, delay=delay)
        assert all(c.dtype == torch.int64 for c in counts)
        for i in range(3):
            for j in range(2):
                tri = transition_triples(x[:, i].numpy(), y[:, j].numpy(), delay)

                def total(keep, tri=tri) -> int:
                    return sum(c for key, c in tri.items() if keep(*key))

                assert int(counts.source_past[i, j]) == total(lambda s, p, f: s and p)
                assert int(counts.source_next[i, j]) == total(lambda s, p, f: s and f)
                assert int(counts.source_both[i, j]) == total(lambda s, p, f: s and p and f)
                assert int(counts.source[i]) == total(lambda s, p, f: s)
                assert int(counts.past[j]) == total(lambda s, p, f: p)
                assert int(counts.next[j]) == total(lambda s, p, f: f)
                assert int(counts.both[j]) == total(lambda s, p, f: p and f)
                assert int(counts.observations) == sum(tri.values()) == 200 - max(delay, 1)


# --------------------------------------------------------------------------------------------
# Properties and invariances
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_neuron_permutations_permute_rows_and_columns(data: st.DataObject) -> None:
    t = data.draw(st.integers(2, 80), label="T")
    m = data.draw(st.integers(1, 6), label="m")
    n = data.draw(st.integers(1, 6), label="n")
    density = data.draw(st.sampled_from([0.05, 0.3, 0.5, 0.9]), label="density")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    rows = data.draw(st.permutations(range(m)), label="source order")
    cols = data.draw(st.permutations(range(n)), label="target order")
    x, y = random_binary(t, m, density, seed), random_binary(t, n, density, seed + 1)
    te = transfer_entropy(x, y)
    permuted = transfer_entropy(x[:, rows], y[:, cols])
    assert torch.equal(permuted, te[rows][:, cols])
    # Range: 0 ≤ TE ≤ H(Y_t | Y_{t−1}) ≤ 1 bit.
    assert te.min() >= 0.0 and te.max() <= 1.0
    counts = transition_counts(x, y)
    total = counts.observations.double()
    t11 = counts.both.double()
    cells = [t11, counts.past - t11, counts.next - t11, total - counts.past - counts.next + t11]
    joint = sum(torch.special.xlogy(c, c / total) for c in cells)
    past = torch.special.xlogy(counts.past, counts.past / total) + torch.special.xlogy(
        total - counts.past, (total - counts.past) / total
    )
    conditional = -(joint - past) / (total * math.log(2))
    assert bool((te <= conditional[None, :] + 1e-12).all())


@pytest.mark.parametrize("chunk_size", [1, 7, 299, 300, 10_000])
def test_chunk_size_gives_identical_output(chunk_size: int) -> None:
    x, y = random_binary(300, 5, 0.3, seed=70), random_binary(300, 4, 0.5, seed=71)
    for delay in (0, 1, 2):
        one_shot = transition_counts(x, y, delay=delay)
        chunked = transition_counts(x, y, delay=delay, chunk_size=chunk_size)
        for a, b in zip(one_shot, chunked, strict=True):
            assert torch.equal(a, b)
        assert torch.equal(
            transfer_entropy(x, y, delay=delay, chunk_size=chunk_size),
            transfer_entropy(x, y, delay=delay),
        )


@pytest.mark.parametrize("k", [1, 2, 50, 197, 198])
def test_segments_overlapping_by_one_step_add_up(k: int) -> None:
    """Streaming: batch 1 = rows [0, k], batch 2 = rows [k, T); the shared row links them."""
    x, y = random_binary(200, 4, 0.4, seed=80), random_binary(200, 3, 0.4, seed=81)
    first = transition_counts(x[: k + 1], y[: k + 1])
    second = transition_counts(x[k:], y[k:])
    summed = first + second
    assert isinstance(summed, TransitionCounts)
    for a, b in zip(summed, transition_counts(x, y), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(transfer_entropy_from_counts(summed), transfer_entropy(x, y))


def test_streaming_in_many_batches_with_delay() -> None:
    """With delay u, consecutive batches must overlap by u rows; three batches at u = 2."""
    x, y = random_binary(240, 3, 0.5, seed=82), random_binary(240, 2, 0.5, seed=83)
    cuts = [(0, 90), (88, 170), (168, 240)]
    summed = transition_counts(x[0:90], y[0:90], delay=2)
    for lo, hi in cuts[1:]:
        summed = summed + transition_counts(x[lo:hi], y[lo:hi], delay=2)
    for a, b in zip(summed, transition_counts(x, y, delay=2), strict=True):
        assert torch.equal(a, b)


def test_counts_without_overlap_lose_the_boundary_transition() -> None:
    """Sanity of the streaming test: disjoint batches miss exactly one observation."""
    x, y = random_binary(100, 2, 0.5, seed=84), random_binary(100, 2, 0.5, seed=85)
    disjoint = transition_counts(x[:50], y[:50]) + transition_counts(x[50:], y[50:])
    assert int(disjoint.observations) == int(transition_counts(x, y).observations) - 1


def test_from_counts_equals_one_shot() -> None:
    x, y = random_binary(500, 4, 0.2, seed=90), random_binary(500, 3, 0.7, seed=91)
    assert torch.equal(
        transfer_entropy_from_counts(transition_counts(x, y)), transfer_entropy(x, y)
    )


def test_dtypes_give_identical_results() -> None:
    x, y = random_binary(400, 4, 0.3, seed=100), random_binary(400, 3, 0.5, seed=101)
    expected = transfer_entropy(x, y)
    for dtype in (torch.bool, torch.uint8, torch.int8, torch.int32, torch.float32, torch.float64):
        assert torch.equal(transfer_entropy(x.to(dtype), y.to(dtype)), expected), dtype
    # Mixed dtypes and non-contiguous views too.
    wide = torch.stack([x, 1 - x], dim=2).reshape(400, 8).to(torch.float32)[:, ::2]
    assert not wide.is_contiguous()
    assert torch.equal(transfer_entropy(wide, y.bool()), expected)
    assert torch.equal(transfer_entropy(x.T.contiguous().T, y.T.contiguous().T), expected)


def test_independent_series_are_near_zero() -> None:
    x, y = random_binary(4001, 3, 0.5, seed=110), random_binary(4001, 3, 0.5, seed=111)
    te = transfer_entropy(x, y)
    # Plug-in bias ≈ 1/(N ln 2) bits = 3.6e-4 (§8.2); allow a wide band.
    assert float(te.mean()) < 5 / (4000 * math.log(2))


# --------------------------------------------------------------------------------------------
# Binarization
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.999])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (101, 7), (1000, 10)])
def test_binarize_layer_matches_numpy_percentile(q: float, shape: tuple[int, int]) -> None:
    g = torch.Generator().manual_seed(120)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    threshold = np.percentile(x.numpy(), 100 * q)  # linear interpolation (numpy default)
    b = binarize(x, q)
    assert b.dtype == torch.uint8 and b.shape == x.shape
    expected = (x.numpy() >= threshold) if threshold > x.numpy().min() else x.numpy() > threshold
    np.testing.assert_array_equal(b.numpy(), expected.astype(np.uint8))


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_binarize_neuron_matches_numpy_percentile(q: float) -> None:
    g = torch.Generator().manual_seed(121)
    x = torch.randn(501, 6, generator=g, dtype=torch.float64) * torch.arange(1, 7) + torch.arange(6)
    threshold = np.percentile(x.numpy(), 100 * q, axis=0)
    b = binarize(x, q, scope="neuron")
    np.testing.assert_array_equal(b.numpy(), (x.numpy() >= threshold).astype(np.uint8))
    # Per-layer thresholds would differ: the columns are shifted and scaled.
    assert not torch.equal(b, binarize(x, q, scope="layer"))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("q", [0.01, 0.3, 0.5, 0.5001, 0.95, 0.999])
def test_percentile_threshold_is_torch_quantile_exactly(q: float, dtype: torch.dtype) -> None:
    """One topk of the shorter tail finds the same two order statistics as a full sort, so
    the threshold is torch.quantile's (linear interpolation) bit for bit, either tail."""
    from infodyn.functional.binarize import _quantile_along

    g = torch.Generator().manual_seed(125)
    for shape in [(1, 1), (2, 3), (64, 64), (301, 7)]:
        x = torch.randn(*shape, generator=g).relu().to(dtype)  # ties at 0, as ReLU outputs
        wide = x.double()  # torch.quantile takes float32/64: interpolate as binarize does
        for dim, axis in ((None, 0), (0, 0)):
            flat = wide.reshape(-1) if dim is None else wide
            low = flat.sort(dim=axis).values
            position = (flat.shape[axis] - 1) * q
            lo = math.floor(position)
            hi = min(lo + 1, flat.shape[axis] - 1)
            below, above = low.select(axis, lo).to(dtype), low.select(axis, hi).to(dtype)
            expected = below + (position - lo) * (above - below)
            got = _quantile_along(x, q, dim)
            assert got.dtype == dtype and torch.equal(got, expected), (shape, dim)
            if dtype != torch.bfloat16:
                torch.testing.assert_close(
                    got.double(), torch.quantile(wide, q, dim=dim), rtol=1e-6, atol=1e-7
                )


@pytest.mark.parametrize("scope", ["layer", "neuron"])
def test_binarize_applies_the_tie_guard_rule_per_threshold(scope: str) -> None:
    """x ≥ t, or x > t where t is the minimum: the one-comparison form gives the same bits."""
    from infodyn.functional.binarize import _quantile_along

    g = torch.Generator().manual_seed(126)
    for fraction in (0.0, 0.5, 0.97, 1.0):  # share of exact zeros
        x = torch.rand(300, 6, generator=g)
        x[torch.rand(300, 6, generator=g) < fraction] = 0.0
        dim = None if scope == "layer" else 0
        t = _quantile_along(x, 0.95, dim)
        floor = x.min() if dim is None else x.min(dim=0).values
        expected = torch.where(t <= floor, x > t, x >= t).to(torch.uint8)
        assert torch.equal(binarize(x, 0.95, scope=scope), expected), fraction


@pytest.mark.parametrize("scope", ["layer", "neuron"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_binarize_batches_is_binarize_of_each_batch(scope: str, dtype: torch.dtype) -> None:
    from infodyn.functional.binarize import binarize_batches

    g = torch.Generator().manual_seed(127)
    for batches, samples, neurons in ((1, 1, 1), (3, 2, 5), (7, 64, 16), (2, 300, 3)):
        x = torch.randn(batches, samples, neurons, generator=g)
        x[0, : samples // 2] = 0.0  # ties at the minimum: the guard in one batch only
        x = x.relu().to(dtype)
        for q in (0.05, 0.5, 0.95):
            expected = torch.stack([binarize(b, q, scope=scope) for b in x])  # type: ignore[arg-type]
            got = binarize_batches(x, q, scope=scope)  # type: ignore[arg-type]
            assert got.dtype == torch.uint8 and torch.equal(got, expected), (batches, q)


def test_binarize_float32_threshold_close_to_numpy() -> None:
    g = torch.Generator().manual_seed(122)
    x = torch.rand(777, 5, generator=g)
    b = binarize(x, 0.95)
    threshold = np.percentile(x.numpy().astype(np.float64), 95)
    # Away from the threshold (beyond float32 round-off) the decisions agree.
    far = np.abs(x.numpy() - threshold) > 1e-6
    np.testing.assert_array_equal(b.numpy()[far], (x.numpy() >= threshold)[far])


def test_binarize_uses_greater_or_equal() -> None:
    x = torch.arange(21, dtype=torch.float64)[:, None]  # median (q = 0.5) is exactly 10.0
    b = binarize(x, 0.5)
    assert b[:, 0].tolist() == [0] * 10 + [1] * 11
    ints = torch.arange(21)[:, None]  # integer input, same rule
    assert torch.equal(binarize(ints, 0.5), b)


def test_binarize_tie_guard_keeps_zeros_at_zero() -> None:
    """ReLU outputs with > 95 % exact zeros: threshold = 0 = min, so zeros must stay 0."""
    g = torch.Generator().manual_seed(123)
    active = torch.rand(2000, 8, generator=g) < 0.03
    x = torch.where(active, torch.rand(2000, 8, generator=g) + 0.1, torch.zeros(()))
    x[:, 7] = 0.0  # a dead neuron
    for scope in ("layer", "neuron"):
        b = binarize(x, 0.95, scope=scope)
        assert not b[x == 0].any(), scope
        assert torch.equal(b.bool(), x > 0), scope
    constant = torch.full((50, 2), 3.0)
    assert not binarize(constant, 0.95).any()
    assert not binarize(constant, 0.95, scope="neuron").any()


def test_binarize_ties_above_the_minimum_use_greater_or_equal() -> None:
    """The guard applies only at the population minimum: a tied threshold above it keeps ≥."""
    x = torch.zeros(100, 1)
    x[:10] = -1.0  # 10 % negative, 90 % exactly zero: the 95th percentile is 0 > min = −1
    assert binarize(x, 0.95)[:, 0].tolist() == [0] * 10 + [1] * 90


@pytest.mark.parametrize("q", [0.9, 0.95, 0.99])
def test_binarize_marks_about_one_minus_q(q: float) -> None:
    g = torch.Generator().manual_seed(124)
    x = torch.randn(4000, 10, generator=g, dtype=torch.float64)
    layer = binarize(x, q).double().mean()
    assert float(layer) == pytest.approx(1 - q, abs=1 / x.numel() + 1e-12)
    neuron = binarize(x, q, scope="neuron").double().mean(0)
    assert torch.allclose(neuron, torch.full((10,), 1 - q, dtype=torch.float64), atol=1 / 4000)


def test_binarize_fixed() -> None:
    x = torch.tensor([[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]])
    assert binarize_fixed(x, 1.0, absolute=True).tolist() == [[1, 1, 0, 0, 0, 1, 1]]
    assert binarize_fixed(x, 1.0).tolist() == [[0, 0, 0, 0, 0, 1, 1]]
    softmax = torch.tensor([[0.05, 0.9, 0.05], [0.3, 0.3, 0.4], [0.01, 0.01, 0.98]])
    assert binarize_fixed(softmax, 0.9).tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert binarize_fixed(x, 1.0).dtype == torch.uint8
    with pytest.raises(ValueError, match="x contains 1 non-finite"):
        binarize_fixed(torch.tensor([[0.0, float("nan")]]), 1.0)


def test_binarized_layers_feed_transfer_entropy() -> None:
    x, y, true = coupled_layers(3000, 6, 3, flip=0.0, seed=125)
    # Continuous activations whose top 50 % is the coupled bit pattern.
    g = torch.Generator().manual_seed(126)
    ax = x.double() + 0.1 * torch.rand(x.shape, generator=g, dtype=torch.float64)
    ay = y.double() + 0.1 * torch.rand(y.shape, generator=g, dtype=torch.float64)
    bx, by = binarize(ax, 0.5, scope="neuron"), binarize(ay, 0.5, scope="neuron")
    assert transfer_entropy(bx, by).argmax(dim=0).tolist() == true


# --------------------------------------------------------------------------------------------
# Errors name the argument and the fix
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [2, 0.5, -1])
def test_non_binary_values_are_rejected(bad: float) -> None:
    ok = torch.zeros(10, 2)
    values = ok.clone()
    values[3, 1] = bad
    with pytest.raises(ValueError, match=r"source must be binary \(0/1\).*binarize"):
        transfer_entropy(values, ok)
    with pytest.raises(ValueError, match=r"target must be binary \(0/1\).*binarize"):
        transfer_entropy(ok, values)
    with pytest.raises(ValueError, match="target must be binary"):
        transfer_entropy(ok, values.long() if bad != 0.5 else values.double())


def test_too_short_series_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"1 time step\(s\).*T >= 2.*longer series"):
        transfer_entropy(torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="delay=3 needs at least 4"):
        transfer_entropy(torch.zeros(3, 2), torch.zeros(3, 2), delay=3)


def test_different_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"source has 5 time steps but target has 6.*same samples"):
        transfer_entropy(torch.zeros(5, 2), torch.zeros(6, 2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_binary_input_is_rejected(bad: float) -> None:
    values = torch.zeros(10, 2)
    values[4, 0] = bad
    with pytest.raises(ValueError, match=r"source contains 1 non-finite value.*\(4, 0\)"):
        transfer_entropy(values, torch.zeros(10, 2))
    with pytest.raises(ValueError, match="target contains 1 non-finite"):
        transition_counts(torch.zeros(10, 2), values)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_activations_are_rejected_by_binarize(bad: float) -> None:
    values = torch.randn(10, 3)
    values[2, 2] = bad
    for scope in ("layer", "neuron"):
        with pytest.raises(ValueError, match=r"x contains 1 non-finite.*learning rate"):
            binarize(values, scope=scope)


def test_one_dimensional_input_is_rejected() -> None:
    series = torch.tensor(DOC_X)
    with pytest.raises(ValueError, match=r"source must be 2-D.*source\.reshape\(-1, 1\)"):
        transfer_entropy(series, column(DOC_Y))
    with pytest.raises(ValueError, match=r"target must be 2-D.*target\.reshape\(-1, 1\)"):
        transfer_entropy(column(DOC_X), series)
    with pytest.raises(ValueError, match=r"x must be 2-D.*reshape\(-1, 1\)"):
        binarize(series.double())
    with pytest.raises(ValueError, match="x must be 2-D"):
        binarize(torch.zeros(4, 3, 2))


@pytest.mark.parametrize("delay", [-1, 1.0, True])
def test_bad_delay_is_rejected(delay: object) -> None:
    with pytest.raises(ValueError, match="delay must be an integer >= 0"):
        transfer_entropy(torch.zeros(10, 2), torch.zeros(10, 2), delay=delay)


def test_bad_chunk_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_size must be None or an integer >= 1, got 0"):
        transfer_entropy(torch.zeros(10, 2), torch.zeros(10, 2), chunk_size=0)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 95, float("nan")])
def test_bad_q_is_rejected(q: float) -> None:
    with pytest.raises(ValueError, match=r"q must lie in \(0, 1\).*0\.95"):
        binarize(torch.randn(10, 3), q)


def test_bad_scope_is_rejected() -> None:
    with pytest.raises(ValueError, match="scope must be one of 'layer', 'neuron'; got 'epoch'"):
        binarize(torch.randn(10, 3), scope="epoch")


def test_non_tensor_input_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"source must be a torch\.Tensor.*torch\.as_tensor"):
        transfer_entropy(np.zeros((10, 2)), torch.zeros(10, 2))
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        binarize([[0.0, 1.0]])
