"""Transition windows on synthetic series with known change points, and lead–lag on pairs.

Tolerances (decades of ``log10(1 + step)``): the middle within 0.1, start and end within 0.2
(noise up to 2.5 % of the change), the middle alone within 0.1 at 12.5 % noise. A logistic
``1 / (1 + exp(-k (x - c)))`` is at 10 % / 90 % of its change at ``c ∓ ln 9 / k``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from infodyn.leadlag import (
    explain_group,
    parse_reference,
    resolve_reference,
    spearman_on_shared_steps,
)
from infodyn.transitions import detect_transition, log_step

K = 8.0  # logistic steepness per decade
EDGE = math.log(9) / K  # 10 %–50 % distance, decades
MID_TOL, EDGE_TOL = 0.1, 0.2


def _steps(n: int = 120, stop: int = 20_000) -> np.ndarray:
    return np.unique(np.geomspace(1, stop, n).astype(np.int64))


def _sigmoid(steps: np.ndarray, centre: float, low: float = 0.1, high: float = 0.9) -> np.ndarray:
    return low + (high - low) / (1 + np.exp(-K * (log_step(steps) - centre)))


def _window(t: object) -> np.ndarray:
    return log_step(np.array([t.start_step, t.mid_step, t.end_step]))  # type: ignore[attr-defined]


@pytest.mark.parametrize("n", [40, 120, 400])
@pytest.mark.parametrize("centre", [1.5, 2.5, 3.5])
@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_sigmoid_on_log_steps_is_found_within_tolerance(
    n: int, centre: float, noise: float
) -> None:
    rng = np.random.default_rng(int(100 * centre) + n)
    steps = _steps(n)
    values = _sigmoid(steps, centre) + noise * rng.standard_normal(steps.size)
    t = detect_transition(steps, values)
    assert t.found and t.direction == "rise"
    start, mid, end = _window(t)
    assert abs(mid - centre) < MID_TOL
    assert abs(start - (centre - EDGE)) < EDGE_TOL and abs(end - (centre + EDGE)) < EDGE_TOL
    assert t.before == pytest.approx(0.1, abs=0.05) and t.after == pytest.approx(0.9, abs=0.05)
    assert t.confidence > 8


def test_noise_free_sigmoid_is_exact_and_falls_are_mirrored() -> None:
    steps = _steps(200)
    t = detect_transition(steps, 1 - _sigmoid(steps, 2.0, 0.0, 0.9))
    assert t.direction == "fall" and t.confidence > 1000
    np.testing.assert_allclose(_window(t), [2.0 - EDGE, 2.0, 2.0 + EDGE], atol=0.01)


def test_heavy_noise_keeps_the_middle() -> None:
    rng = np.random.default_rng(7)
    steps = _steps(400)
    t = detect_transition(steps, _sigmoid(steps, 2.5) + 0.1 * rng.standard_normal(steps.size))
    assert t.found and abs(_window(t)[1] - 2.5) < MID_TOL


def test_evenly_spaced_schedule_is_read_on_the_log_axis() -> None:
    rng = np.random.default_rng(3)
    steps = np.arange(0, 20_001, 50)
    t = detect_transition(steps, _sigmoid(steps, 3.0) + 0.02 * rng.standard_normal(steps.size))
    start, mid, _ = _window(t)
    assert abs(mid - 3.0) < MID_TOL and abs(start - (3 - EDGE)) < EDGE_TOL


@pytest.mark.parametrize("n", [40, 120, 400])
def test_plateau_with_noise_has_no_transition(n: int) -> None:
    rng = np.random.default_rng(n)
    steps = _steps(n)
    for _ in range(20):
        t = detect_transition(steps, 0.5 + 0.05 * rng.standard_normal(steps.size))
        assert not t.found and math.isnan(t.mid_step) and t.confidence < 6
    flat = detect_transition(steps, np.full(steps.size, 97.0))
    assert not flat.found and flat.size == 0


def test_tiny_change_against_a_large_value_is_no_transition() -> None:
    steps = _steps()
    assert not detect_transition(steps, 100 + 0.5 * _sigmoid(steps, 2.0, 0, 1)).found


def test_grokking_like_bump_finds_the_kept_fall() -> None:
    """Test loss: 4.6, memorisation rise to 12 around step 100, generalisation fall at ~3,000."""
    rng = np.random.default_rng(0)
    steps = _steps(150)
    x = log_step(steps)
    rise, fall = 1 / (1 + np.exp(-K * (x - 2.0))), 1 / (1 + np.exp(-K * (x - 3.5)))
    loss = 4.6 + 7.4 * rise - 11.9 * fall + 0.2 * rng.standard_normal(steps.size)
    t = detect_transition(steps, loss, log_values=False)  # the linear half of the fall
    assert t.found and t.direction == "fall"
    _, mid, end = _window(t)
    assert abs(mid - 3.5) < MID_TOL and abs(end - (3.5 + EDGE)) < EDGE_TOL
    assert t.before == pytest.approx(12.0, abs=0.5) and t.after == pytest.approx(0.1, abs=0.5)
    # Read in log10, the fall is halfway at its geometric middle, later.
    in_log = detect_transition(steps, loss, log_values=True)
    assert in_log.log_values and in_log.direction == "fall" and _window(in_log)[1] > mid


def test_bad_series_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="at least 4 finite values"):
        detect_transition(np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_transition(np.array([0, 2, 1, 3]), np.arange(4.0))
    with pytest.raises(ValueError, match="one length"):
        detect_transition(np.arange(5), np.arange(4.0))


# -- lead–lag ------------------------------------------------------------------------------------

REF = ("accuracy", "test", "")


def _run(**centres: float) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]:
    steps = _steps(150)
    return {
        (name if name != "acc" else "accuracy", "test", ""): (steps, _sigmoid(steps, c))
        for name, c in centres.items()
    }


def test_lead_sign_steps_and_ratio_on_constructed_pairs() -> None:
    rows = explain_group([_run(acc=3.0, early=2.5, late=3.3)], REF)
    by_name = {r.key[0]: r for r in rows}
    assert [r.key[0] for r in rows] == ["early", "accuracy", "late"]
    early, late = by_name["early"], by_name["late"]
    assert early.lead_steps == pytest.approx(10**3 - 10**2.5, rel=0.05)
    assert early.lead_ratio == pytest.approx(10**0.5, rel=0.05) and early.leading == 1
    assert late.lead_steps < 0 and late.lead_ratio == pytest.approx(10**-0.3, rel=0.05)
    assert late.leading == 0 and by_name["accuracy"].is_reference
    assert by_name["accuracy"].lead_steps == 0 and early.spearman == pytest.approx(1.0)


def test_across_seeds_mean_std_and_fraction_leading() -> None:
    runs = [_run(acc=3.0, q=c) for c in (2.6, 2.8, 3.1)]
    (q,) = [r for r in explain_group(runs, REF) if r.key[0] == "q"]
    leads = [10**3 - 10**c for c in (2.6, 2.8, 3.1)]
    assert (q.n, q.found, q.paired, q.leading) == (3, 3, 3, 2)
    assert q.lead_steps == pytest.approx(np.mean(leads), rel=0.05)
    assert q.lead_steps_std == pytest.approx(np.std(leads, ddof=1), rel=0.1)
    assert q.lead_ratio == pytest.approx(10 ** np.mean([0.4, 0.2, -0.1]), rel=0.05)
    assert q.mid_log_std == pytest.approx(np.std([2.6, 2.8, 3.1], ddof=1), abs=0.02)


def test_series_without_transition_ranks_last_and_has_no_lead() -> None:
    run = _run(acc=3.0)
    steps = _steps(150)
    run[("num_classes", "test", "")] = (steps, np.full(steps.size, 10.0))
    rows = explain_group([run], REF)
    assert rows[-1].key[0] == "num_classes" and rows[-1].found == 0
    assert math.isnan(rows[-1].lead_steps) and math.isnan(rows[-1].spearman)


def test_spearman_uses_only_shared_steps() -> None:
    s = np.arange(20)
    assert spearman_on_shared_steps((s, s * 1.0), (s[::3], -(s[::3] ** 3.0))) == pytest.approx(-1)
    assert math.isnan(spearman_on_shared_steps((s, s * 1.0), (s + 100, s * 1.0)))


def test_reference_parsing_and_resolution() -> None:
    keys = [("accuracy", "test", ""), ("rnc1", "test", "fc1"), ("rnc1", "test", "fc2")]
    assert parse_reference("train:accuracy") == ("accuracy", "train", None)
    assert resolve_reference("test:rnc1:fc2", keys) == ("rnc1", "test", "fc2")
    with pytest.raises(ValueError, match="not split:metric"):
        parse_reference("accuracy")
    with pytest.raises(ValueError, match="name one as split:metric:layer"):
        resolve_reference("test:rnc1", keys)
    with pytest.raises(ValueError, match="no such series; the runs hold: test:accuracy"):
        resolve_reference("train:accuracy", keys)


def test_positive_series_spanning_decades_is_read_in_log_values() -> None:
    """A loss from 7,000 to 0.06, log-linear in between: halfway at its geometric middle."""
    steps = _steps(200)
    log_loss = 3.85 - 5.07 * (_sigmoid(steps, 2.5, 0.0, 1.0))
    t = detect_transition(steps, 10**log_loss)
    assert t.log_values and t.direction == "fall" and abs(_window(t)[1] - 2.5) < MID_TOL
    assert t.before == pytest.approx(10**3.85, rel=0.05)
    linear = detect_transition(steps, 10**log_loss, log_values=False)
    chance_to_one = detect_transition(steps, _sigmoid(steps, 2.5, 0.005, 1.0))  # 2.3 decades
    assert not chance_to_one.log_values and abs(_window(chance_to_one)[1] - 2.5) < MID_TOL
    assert _window(linear)[1] < 2.3  # the linear half-change comes early
    with pytest.raises(ValueError, match="needs a positive series"):
        detect_transition(steps, log_loss, log_values=True)
