"""Where a recorded quantity changes: the transition window of one scalar series on log steps.

Training curves of the four families change over decades of steps (grokking's test accuracy
rises ~30× later than the train accuracy fits), so every position here is on the log-step axis
``x = log10(1 + step)`` (the ``1 +`` keeps step 0, the initial value; from step ~10 on it is
log10(step) to within 0.05 decades).

The rule, for a series ``(steps, values)`` — read as ``log10(value)`` when it is positive and
spans three decades or more (a loss falling from 7,000 to 0.06: its half-change in linear
units would sit in the first few steps):

1. **Smooth and resample**: a running median over 5 neighbouring records, resampled linearly
   onto ``grid_points`` points uniform in ``x`` (so that each decade weighs the same whether
   the schedule was log-spaced or every 50 steps), then a running median over ``smooth`` of
   the grid (5 % of the log range by default). Medians keep a sharp jump sharp (the median of
   a monotone window is its centre) and ignore isolated spikes.
2. **The change** is the largest sustained monotone change of the smoothed series ``m``: the
   pair ``i < j`` maximising ``|m[j] - m[i]|``. For a sigmoid these are the two plateaus; for a
   non-monotone bump (grokking's test loss: a memorisation rise, then the generalisation fall)
   it is the larger of the rise and the fall, between the bump's extreme and the level the
   series settles to — the level change that is *kept*, not the first one.
3. **The window** on that change, from ``lo = m[i]`` to ``hi = m[j]``: the *middle* is the last
   point in ``[i, j]`` where ``m`` crosses ``lo + 0.5 (hi - lo)`` (after it the series stays
   past half the change up to ``j``), the *start* the last crossing of 10 % before the middle
   and the *end* the first crossing of 90 % after it; crossings are interpolated linearly in
   ``x``, then mapped back to steps.
4. **Confidence** is the change in units of the series' noise, ``size / sigma`` with ``sigma``
   estimated from the raw values' residuals around their 5-record running mean
   (``1.4826 · MAD``, rescaled for the mean sharing the record; a mean follows a linear trend,
   and the few records next to a sharp jump do not move a median absolute deviation). A
   series whose change is below ``min_snr`` (6) noise units, or below ``min_relative`` (2 %)
   of its largest magnitude, has no transition (``found`` False): on white noise alone the
   largest change reads 2–5 noise units.

Verified on synthetic series with known change points (``tests/test_transitions.py``): sigmoids
in log step with noise (middle within 0.1 decade, start and end within 0.2 decade), flat
plateaus with noise (no transition), and a grokking-like bump (the fall is found).

Why not ``ruptures``: its detectors (Pelt, Binseg, Dynp) find change points of a piecewise
model under a penalty; a single transition between two plateaus is the one-breakpoint
least-squares split, a few lines of NumPy, and the questions asked here — where the half of
the change lies, which of several changes is kept, how large it is against the noise — are
not what its costs answer. A penalty scaled per metric would be one more knob to tune.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["LOG_VALUES_SPAN", "Direction", "Transition", "detect_transition", "log_step", "step_of"]

Direction = Literal["rise", "fall"]

_MAD_TO_SIGMA = 1.4826  # median absolute deviation → std of a Gaussian
_POINT_WINDOW = 5  # records in the first running median
#: A positive series whose largest value is this many times its smallest is read in log10.
#: Three decades: an accuracy from chance (1/97 for grokking) to 1 spans two and stays linear;
#: a loss falling from 4.6 to 1e-6 spans six.
LOG_VALUES_SPAN = 1000.0


def log_step(steps: np.ndarray | float) -> np.ndarray:
    """The log-step axis ``log10(1 + step)`` on which transitions are found.

    Example:
        >>> log_step(np.array([0, 9, 99])).tolist()
        [0.0, 1.0, 2.0]
    """
    return np.log10(1.0 + np.asarray(steps, dtype=np.float64))


def step_of(x: float) -> float:
    """The step at log-step position ``x`` (inverse of :func:`log_step`).

    Example:
        >>> step_of(2.0)
        99.0
    """
    return float(10.0**x - 1.0)


@dataclass(frozen=True)
class Transition:
    """The transition window of one series, or the statement that it has none.

    Attributes:
        found: Whether the series has a transition (see ``min_snr``/``min_relative``).
        start_step: Where 10 % of the change is done (step; NaN without a transition).
        mid_step: Where half of the change is done.
        end_step: Where 90 % of the change is done.
        direction: ``"rise"`` or ``"fall"`` (of the largest change even when not found).
        before: The level the change starts from (smoothed series).
        after: The level it reaches.
        size: ``|after - before|``, in the series' units.
        noise: Robust std of the raw values around their trend, same units.
        confidence: The change over the noise, both in the units the change was found in
            (log10 units with ``log_values``); inf for a noise-free plateau.
        log_values: Whether the change was found in ``log10(value)``; ``noise`` is then in
            decades, ``before``/``after``/``size`` still in the series' units.
    """

    found: bool
    start_step: float
    mid_step: float
    end_step: float
    direction: Direction
    before: float
    after: float
    size: float
    noise: float
    confidence: float
    log_values: bool = False

    @property
    def mid_log(self) -> float:
        """The middle on the log-step axis (NaN without a transition)."""
        return float(log_step(self.mid_step)) if self.found else math.nan


def _running_median(y: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return y.copy()
    half = width // 2
    padded = np.pad(y, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=1)


def _noise(values: np.ndarray) -> float:
    """Robust std of the raw values around their 5-record running mean.

    A mean follows a linear trend exactly, so only curvature and noise are left; the MAD
    ignores the few records next to a sharp jump. ``v - mean_5`` of white noise has std
    ``sqrt(4/5)·sigma``, undone here.
    """
    half = _POINT_WINDOW // 2
    padded = np.pad(values, half, mode="edge")
    local = np.lib.stride_tricks.sliding_window_view(padded, _POINT_WINDOW).mean(axis=1)
    residual = values - local
    mad = np.median(np.abs(residual - np.median(residual)))
    return float(_MAD_TO_SIGMA * mad / math.sqrt(1 - 1 / _POINT_WINDOW))


def _largest_change(m: np.ndarray) -> tuple[int, int]:
    """``(i, j)``, ``i < j``, maximising ``|m[j] - m[i]|`` (O(n) with running extremes)."""
    best, pair = -1.0, (0, m.size - 1)
    lo_at, hi_at = 0, 0
    for j in range(1, m.size):
        if m[j] - m[lo_at] > best:
            best, pair = float(m[j] - m[lo_at]), (lo_at, j)
        if m[hi_at] - m[j] > best:
            best, pair = float(m[hi_at] - m[j]), (hi_at, j)
        if m[j] < m[lo_at]:
            lo_at = j
        if m[j] > m[hi_at]:
            hi_at = j
    return pair


def _crossing(x: np.ndarray, d: np.ndarray, level: float, *, last: bool) -> float:
    """Where the rising ``d`` passes ``level``: the last (or first) upward crossing, in ``x``."""
    above = d >= level
    ups = np.flatnonzero(above[1:] & ~above[:-1])
    if ups.size == 0:
        return float(x[0] if above[0] else x[-1])
    k = int(ups[-1] if last else ups[0])
    d0, d1 = d[k], d[k + 1]
    frac = 0.0 if d1 == d0 else (level - d0) / (d1 - d0)
    return float(x[k] + frac * (x[k + 1] - x[k]))


def detect_transition(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    grid_points: int = 200,
    smooth: float = 0.05,
    min_snr: float = 6.0,
    min_relative: float = 0.02,
    log_values: bool | None = None,
) -> Transition:
    """Find the transition window of one series on the log-step axis.

    The rule (running medians on log steps, largest sustained change, 10/50/90 %
    crossings, change over noise) is in the module docstring.

    Args:
        steps: ``(n,)`` training steps, ``>= 0`` and increasing.
        values: ``(n,)`` the series; NaN values are dropped.
        grid_points: Points of the uniform log-step grid.
        smooth: Width of the running median as a fraction of ``grid_points``.
        min_snr: Smallest change, in noise units, that counts as a transition.
        min_relative: Smallest change, as a fraction of the series' largest ``|value|``
            (values on a linear scale only).
        log_values: Find the change in ``log10(value)``; None (default) does so for a positive
            series spanning at least :data:`LOG_VALUES_SPAN` (a loss falling from 7,000 to
            0.06 is halfway at 21 in log terms, but at 3,600 — the first steps — in linear).

    Returns:
        The :class:`Transition`; ``found`` False (steps NaN) for a series without one.

    Raises:
        ValueError: Fewer than 4 finite points, or steps that are negative or not increasing.

    Example:
        >>> steps = np.unique(np.geomspace(1, 10_000, 60).astype(int))
        >>> acc = 0.01 + 0.99 / (1 + np.exp(-6 * (np.log10(steps) - 2.5)))  # halfway at 316
        >>> t = detect_transition(steps, acc)
        >>> t.found, t.direction, round(t.mid_step, -1)
        (True, 'rise', 320.0)
        >>> detect_transition(steps, np.full(steps.size, 0.3)).found
        False
    """
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if steps.shape != values.shape or steps.ndim != 1:
        raise ValueError(
            f"steps and values must be 1-d of one length, got {steps.shape} and {values.shape}"
        )
    keep = np.isfinite(values)
    steps, values = steps[keep], values[keep]
    if steps.size < 4:
        raise ValueError(
            f"a transition needs at least 4 finite values, got {steps.size}; record the "
            f"quantity at more steps"
        )
    if steps[0] < 0 or np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be >= 0 and strictly increasing")
    positive = bool(np.all(values > 0))
    if log_values is None:
        log_values = positive and float(values.max() / values.min()) >= LOG_VALUES_SPAN
    elif log_values and not positive:
        raise ValueError("log_values=True needs a positive series")
    if log_values:
        values = np.log10(values)
    x = log_step(steps)
    # A median over 5 neighbouring records first: a sparse schedule (40 evaluations) would
    # otherwise be resampled point for point and its noise read as level changes.
    local = _running_median(values, _POINT_WINDOW)
    grid = np.linspace(x[0], x[-1], grid_points)
    resampled = np.interp(grid, x, local)
    width = max(1, round(smooth * grid_points)) | 1  # odd, so the median is centred
    m = _running_median(resampled, width)
    i, j = _largest_change(m)
    before, after = float(m[i]), float(m[j])
    direction: Direction = "rise" if after >= before else "fall"
    size = abs(after - before)
    noise = _noise(values)
    confidence = math.inf if noise == 0.0 and size > 0 else (size / noise if noise else 0.0)
    scale = 0.0 if log_values else min_relative * float(np.max(np.abs(values)))
    found = size > 0 and confidence >= min_snr and size >= scale
    lo, hi = before, after  # the levels the window is measured on
    if log_values:  # report levels in the series' own units
        before, after = 10.0**before, 10.0**after
        size = abs(after - before)
    if not found:
        nan = math.nan
        return Transition(
            False, nan, nan, nan, direction, before, after, size, noise, confidence, log_values
        )
    # Progress of the change, 0 at i and 1 at j, rising whatever the direction.
    d = (m[i : j + 1] - lo) / (hi - lo)
    xs = grid[i : j + 1]
    mid = _crossing(xs, d, 0.5, last=True)
    before_mid = xs <= mid
    start = (
        _crossing(xs[before_mid], d[before_mid], 0.1, last=True) if before_mid.sum() > 1 else mid
    )
    after_mid = xs >= mid
    end = _crossing(xs[after_mid], d[after_mid], 0.9, last=False) if after_mid.sum() > 1 else mid
    return Transition(
        True,
        step_of(start),
        step_of(mid),
        step_of(end),
        direction,
        before,
        after,
        size,
        noise,
        confidence,
        log_values,
    )
