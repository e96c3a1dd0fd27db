"""Grokking-step analysis on hand-made series."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from infodyn.analysis import GrokkingSteps, first_step_reaching, grokking_steps
from infodyn.store import RunStore, Scalar


def test_first_step_reaching() -> None:
    steps = np.array([0, 10, 20, 30, 40])
    values = np.array([0.0, 0.5, 0.9, 0.7, 1.0])
    assert first_step_reaching(steps, values, 0.9) == 20  # >= is inclusive
    assert first_step_reaching(steps, values, 0.95) == 40
    assert first_step_reaching(steps, values, 1.01) is None
    assert first_step_reaching(steps, values, -1.0) == 0
    assert first_step_reaching(np.array([], dtype=int), np.array([]), 0.5) is None
    assert isinstance(first_step_reaching(steps, values, 0.9), int)


def test_first_step_reaching_sorts_and_ignores_nan() -> None:
    steps = np.array([30, 10, 20, 0])
    values = np.array([0.95, math.nan, 0.99, 0.1])
    assert first_step_reaching(steps, values, 0.9) == 20


def test_first_step_reaching_shape_error() -> None:
    with pytest.raises(ValueError, match="1-D of equal length"):
        first_step_reaching(np.arange(3), np.arange(4), 0.5)


@pytest.mark.parametrize(
    ("fit", "gen", "ratio"),
    [(100, 2500, 25.0), (100, 50, 0.5), (None, 10, None), (10, None, None), (0, 10, None)],
)
def test_delay_ratio(fit: int | None, gen: int | None, ratio: float | None) -> None:
    assert GrokkingSteps(fit, gen).delay_ratio == ratio


def _fill(store: RunStore, split: str, curve: list[tuple[int, float]]) -> None:
    store.write([Scalar(s, split, "accuracy", a) for s, a in curve])


def test_grokking_steps_from_store(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        _fill(store, "train", [(0, 0.01), (100, 0.98), (200, 0.995), (300, 1.0)])
        _fill(store, "test", [(0, 0.01), (100, 0.02), (200, 0.3), (300, 0.92)])
        store.write([Scalar(300, "train", "loss", 0.99)])  # other metrics do not interfere
        g = grokking_steps(store)
        assert g == GrokkingSteps(fit_step=200, generalize_step=300)
        assert g.delay_ratio == 1.5
        assert grokking_steps(store, fit_threshold=0.9, generalize_threshold=0.25) == GrokkingSteps(
            100, 200
        )


def test_grokking_steps_with_missing_or_unreached_splits(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        assert grokking_steps(store) == GrokkingSteps(None, None)
        _fill(store, "train", [(0, 0.5), (10, 1.0)])
        assert grokking_steps(store) == GrokkingSteps(10, None)
        _fill(store, "test", [(0, 0.1), (10, 0.5)])
        assert grokking_steps(store) == GrokkingSteps(10, None)


def test_gain_step_is_relative_to_the_runs_own_start_and_end() -> None:
    from infodyn.analysis import gain_step

    steps = np.array([30, 0, 10, 20])  # any order
    values = np.array([0.9, 0.1, 0.5, 0.81])
    # gain 0.8 from 0.1: 90 % of it is reached at 0.82 -> step 30, not 20 (0.81)
    assert gain_step(steps, values) == 30
    assert gain_step(steps, values, fraction=0.5) == 10
    assert gain_step(np.array([0, 10]), np.array([0.5, 0.5])) is None  # no gain
    assert gain_step(np.array([0]), np.array([0.5])) is None
    assert gain_step(np.array([0, 10]), np.array([math.nan, 0.9])) is None
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\], got 1.5"):
        gain_step(steps, values, fraction=1.5)


def test_drop_step_starts_at_the_peak_and_skips_nan() -> None:
    from infodyn.analysis import drop_step

    steps = np.arange(6) * 10
    values = np.array([1.0, 4.0, math.nan, 3.0, 1.9, 2.5])
    assert drop_step(steps, values) == 40  # peak 4 at 10; first value <= 2 after it
    assert drop_step(steps, values, baseline=2.5) == 30  # <= 4 - 0.75
    assert drop_step(steps, np.array([1.0, 4.0, 3.0, 3.0, 3.0, 3.0])) is None
    assert drop_step(steps, np.full(6, math.nan)) is None
    assert drop_step(steps, values, baseline=5.0) is None  # peak not above the baseline


def test_power_law_fit_recovers_the_exponent_and_drops_missing_pairs() -> None:
    from infodyn.analysis import power_law_fit

    lam = np.array([0.01, 0.01, 0.1, 0.1, 1.0, 1.0, 0.5])
    steps = 50.0 / lam * np.array([1.1, 0.9, 1.1, 0.9, 1.1, 0.9, math.nan])
    fit = power_law_fit(lam, steps)
    assert fit is not None
    assert fit.slope == pytest.approx(-1.0, abs=1e-12)  # the ±10 % noise is symmetric
    assert fit.n == 6 and fit.stderr is not None and fit.stderr > 0
    expected = np.polyfit(np.log(lam[:6]), np.log(steps[:6]), 1)
    assert (fit.slope, fit.intercept) == pytest.approx(tuple(expected))
    assert power_law_fit(np.array([0.1, 0.1]), np.array([3.0, 4.0])) is None  # one λ only
    assert power_law_fit(np.array([0.1]), np.array([3.0])) is None
