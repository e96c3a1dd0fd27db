"""TE over windows of a series, and Spearman's ρ of per-epoch series.

Windows are checked against ``transfer_entropy_null`` called by hand on each window's rows;
Spearman against SciPy's ``spearmanr`` (an independent implementation).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infodyn.functional import (
    transfer_entropy,
    transfer_entropy_null,
    transfer_entropy_windows,
    window_bounds,
)
from infodyn.functional.te_trends import rank, spearman


def _series(t: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(t, 3, generator=g) < 0.3).to(torch.uint8)
    y = (torch.rand(t, 2, generator=g) < 0.4).to(torch.uint8)
    y[1:, 0] = x[:-1, 2]  # one coupled pair
    return x, y


@pytest.mark.parametrize("growing", [False, True])
@pytest.mark.parametrize("delay", [0, 1])
def test_windows_equal_the_null_of_each_window_by_hand(growing: bool, delay: int) -> None:
    x, y = _series(203, seed=3)
    got = transfer_entropy_windows(x, y, 4, growing=growing, n_surrogates=21, seed=5, delay=delay)
    bounds = window_bounds(203, 4, growing=growing)
    assert got.start.tolist() == [a for a, _ in bounds]
    assert got.stop.tolist() == [b for _, b in bounds]
    for w, (a, b) in enumerate(bounds):
        sig = transfer_entropy_null(x[a:b], y[a:b], 21, 5, delay=delay)
        assert float(got.te_mean[w]) == float(transfer_entropy(x[a:b], y[a:b], delay=delay).mean())
        assert float(got.null_mean[w]) == float(sig.null_pair_mean.mean())
        assert float(got.null_std[w]) == float(sig.null_pair_mean.std(correction=0))
        exceed = int((sig.null_pair_mean >= sig.te.mean() - 1e-12).sum())
        assert float(got.p_value[w]) == (1 + exceed) / 22


def test_window_bounds_cover_the_series_in_nearly_equal_parts() -> None:
    for length, parts in [(10, 3), (114, 4), (7, 7), (1000, 1)]:
        bounds = window_bounds(length, parts)
        assert bounds[0][0] == 0 and bounds[-1][1] == length
        assert all(b == c for (_, b), (c, _) in itertools.pairwise(bounds))
        sizes = [b - a for a, b in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_window_errors_name_the_argument() -> None:
    x, y = _series(20, seed=1)
    with pytest.raises(ValueError, match=r"parts must be an integer in \[1, 20\]"):
        transfer_entropy_windows(x, y, 21)
    with pytest.raises(ValueError, match="windows of 2 rows; TE with delay=2 needs at least 3"):
        transfer_entropy_windows(x, y, 10, delay=2)
    with pytest.raises(ValueError, match="source has 20 time steps but target has 19"):
        transfer_entropy_windows(x, y[:19], 2)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=3, max_size=40).filter(
        lambda rows: len({a for a, _ in rows}) > 1 and len({b for _, b in rows}) > 1
    )
)
def test_spearman_equals_scipy_with_ties(rows: list[tuple[int, int]]) -> None:
    a = np.array([r[0] for r in rows], dtype=float)
    b = np.array([r[1] for r in rows], dtype=float)
    expected = scipy.stats.spearmanr(a, b).statistic
    assert spearman(a, b) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(rank(a), scipy.stats.rankdata(a))


def test_spearman_is_none_where_undefined_and_rejects_bad_input() -> None:
    assert spearman([1.0, 2.0], [2.0, 1.0]) is None  # fewer than 3 epochs
    assert spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) is None  # constant series
    assert spearman([3.0, 2.0, 1.0], [1.0, 2.0, 3.0]) == -1.0
    with pytest.raises(ValueError, match="equal length"):
        spearman([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="must be finite"):
        spearman([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0])


def test_a_given_whole_series_null_is_reused_for_the_last_growing_window() -> None:
    x, y = _series(120, seed=4)
    whole = transfer_entropy_null(x, y, 21, 9)
    fresh = transfer_entropy_windows(x, y, 3, growing=True, n_surrogates=21, seed=9)
    reused = transfer_entropy_windows(x, y, 3, growing=True, n_surrogates=21, seed=9, whole=whole)
    for a, b in zip(fresh, reused, strict=True):
        assert torch.equal(a, b)
