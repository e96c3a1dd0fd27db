"""Summaries computed from a finished (or running) store, e.g. when grokking happened."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infodyn.store import RunStore

__all__ = [
    "FIT_THRESHOLD",
    "GENERALIZE_THRESHOLD",
    "GrokkingSteps",
    "PowerLawFit",
    "drop_step",
    "first_step_reaching",
    "gain_step",
    "grokking_steps",
    "power_law_fit",
]

#: Train accuracy that counts as having fit the training set (a fraction in [0, 1]).
FIT_THRESHOLD = 0.99
#: Test accuracy that counts as having generalised.
GENERALIZE_THRESHOLD = 0.9


def first_step_reaching(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """The first step (in step order) whose value is ``>= threshold``, or None if none is.

    NaN never reaches a threshold.

    Args:
        steps: ``(n,)`` integer steps, in any order.
        values: ``(n,)`` values at those steps.
        threshold: The level to reach.

    Example:
        >>> import numpy as np
        >>> first_step_reaching(np.array([0, 10, 20, 30]), np.array([0.1, 0.5, 0.95, 0.8]), 0.9)
        20
        >>> first_step_reaching(np.array([0, 10]), np.array([0.1, 0.5]), 0.9) is None
        True
    """
    steps, values = _sorted_series(steps, values)
    # NaN >= threshold is False, so a diverged value never counts as reaching it.
    hits = np.flatnonzero(values >= threshold)
    return int(steps[hits[0]]) if hits.size else None


@dataclass(frozen=True)
class GrokkingSteps:
    """When a run fit its training set and when it generalised.

    Attributes:
        fit_step: First step with train accuracy at or above the fit threshold, or None.
        generalize_step: First step with test accuracy at or above the generalisation
            threshold, or None.
    """

    fit_step: int | None
    generalize_step: int | None

    @property
    def delay_ratio(self) -> float | None:
        """``generalize_step / fit_step``: how many times longer generalising took than fitting.

        None when either step is missing or ``fit_step`` is 0 (the ratio is undefined).

        Example:
            >>> GrokkingSteps(fit_step=1000, generalize_step=25000).delay_ratio
            25.0
        """
        if self.fit_step is None or self.generalize_step is None or self.fit_step == 0:
            return None
        return self.generalize_step / self.fit_step


def _first_reaching(store: RunStore, split: str, threshold: float) -> int | None:
    if ("accuracy", split) not in {(m, s) for m, s, _ in store.keys()}:
        return None
    steps, values = store.series("accuracy", split)
    return first_step_reaching(steps, values, threshold)


def grokking_steps(
    store: RunStore,
    *,
    fit_threshold: float = FIT_THRESHOLD,
    generalize_threshold: float = GENERALIZE_THRESHOLD,
) -> GrokkingSteps:
    """Find the fit and generalisation steps from the ``accuracy`` series of ``train``/``test``.

    Following Power et al. (2022, "Grokking"), fitting is train accuracy reaching
    ``fit_threshold`` and generalising is test accuracy reaching ``generalize_threshold``;
    accuracies are fractions in [0, 1]. A split with no accuracy recorded gives None.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(s, "train", "accuracy", a) for s, a in
        ...                      [(0, 0.1), (100, 1.0), (1000, 1.0)]]
        ...                     + [Scalar(s, "test", "accuracy", a) for s, a in
        ...                        [(0, 0.0), (100, 0.05), (1000, 0.97)]])
        ...         g = grokking_steps(store)
        >>> g, g.delay_ratio
        (GrokkingSteps(fit_step=100, generalize_step=1000), 10.0)
    """
    return GrokkingSteps(
        fit_step=_first_reaching(store, "train", fit_threshold),
        generalize_step=_first_reaching(store, "test", generalize_threshold),
    )


def _sorted_series(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or values.shape != steps.shape:
        raise ValueError(
            f"steps and values must be 1-D of equal length, got shapes {steps.shape} and "
            f"{values.shape}"
        )
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def gain_step(steps: np.ndarray, values: np.ndarray, fraction: float = 0.9) -> int | None:
    """The first step at which a rising curve has made ``fraction`` of its final gain.

    With v_0 the value at the first step and v_T at the last, the first step with
    v ≥ v_0 + fraction·(v_T − v_0). Sakamoto & Sato read the delay of grokking off the rise of
    test accuracy; a fraction of the run's own gain, rather than a fixed accuracy, makes the
    step comparable across datasets whose accuracy ceilings differ. None when the curve did
    not rise (v_T ≤ v_0), has fewer than two points, or holds NaN at either end.

    Args:
        steps: ``(n,)`` integer steps, in any order.
        values: ``(n,)`` values at those steps.
        fraction: Share of the gain to reach, in (0, 1].

    Example:
        >>> import numpy as np
        >>> gain_step(np.array([0, 10, 20, 30]), np.array([0.1, 0.2, 0.85, 0.9]))  # ≥ 0.82
        20
        >>> gain_step(np.array([0, 10]), np.array([0.5, 0.4])) is None
        True
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    steps, values = _sorted_series(steps, values)
    if steps.size < 2 or not np.isfinite(values[[0, -1]]).all() or values[-1] <= values[0]:
        return None
    return first_step_reaching(steps, values, values[0] + fraction * (values[-1] - values[0]))


def drop_step(
    steps: np.ndarray, values: np.ndarray, *, fraction: float = 0.5, baseline: float = 0.0
) -> int | None:
    """The first step after a curve's peak at which it has fallen ``fraction`` of the way down.

    With p the largest value (its first occurrence) and b the ``baseline``, the first step
    after the peak with v ≤ p − fraction·(p − b). ``baseline=0`` and ``fraction=0.5`` give
    "below half its peak" (RNC1, which falls towards 0); ``baseline`` = the final value gives
    "half of its drop" (e.g. redundant information, which falls to a positive floor). None
    when the curve never gets there, is empty, or the peak is not above the baseline.

    Args:
        steps: ``(n,)`` integer steps, in any order.
        values: ``(n,)`` values at those steps; NaN is skipped when finding the peak and never
            counts as having fallen.
        fraction: Share of the fall, in (0, 1].
        baseline: The level the fall is measured towards.

    Example:
        >>> import numpy as np
        >>> s, v = np.array([0, 10, 20, 30, 40]), np.array([2.0, 8.0, 5.0, 3.0, 1.0])
        >>> drop_step(s, v)  # peak 8 at step 10; ≤ 4 first at step 30
        30
        >>> drop_step(s, v, baseline=float(v[-1]))  # ≤ 8 − 0.5·(8 − 1) = 4.5
        30
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    steps, values = _sorted_series(steps, values)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    peak_at = int(np.flatnonzero(finite)[np.argmax(values[finite])])
    peak = values[peak_at]
    if not peak > baseline:
        return None
    level = peak - fraction * (peak - baseline)
    after = values[peak_at:]
    hits = np.flatnonzero(after <= level)  # NaN compares False
    return int(steps[peak_at + hits[0]]) if hits.size else None


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of log y = intercept + slope · log x (natural logs).

    Attributes:
        slope: The exponent; y ∝ x^slope.
        intercept: log y at x = 1.
        stderr: Standard error of the slope (None with fewer than 3 points).
        n: Number of (x, y) pairs used.
    """

    slope: float
    intercept: float
    stderr: float | None
    n: int


def power_law_fit(x: np.ndarray, y: np.ndarray) -> PowerLawFit | None:
    """Fit y ∝ x^slope by least squares on log y against log x.

    Pairs with a missing (NaN) or non-positive x or y are left out. Used for the delay of
    grokking against weight decay λ, which Sakamoto & Sato predict to scale like 1/(lr·λ):
    slope −1.

    Args:
        x: ``(n,)`` positive values (e.g. weight decays, one per run).
        y: ``(n,)`` positive values (e.g. the generalisation step of each run).

    Returns:
        The fit, or None when fewer than two usable pairs remain or all x are equal.

    Example:
        >>> import numpy as np
        >>> fit = power_law_fit(np.array([0.01, 0.1, 1.0]), np.array([3000.0, 300.0, 30.0]))
        >>> round(fit.slope, 6), fit.n
        (-1.0, 3)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    if lx.size < 2 or np.ptp(lx) == 0:
        return None
    slope, intercept = np.polyfit(lx, ly, 1)
    stderr = None
    if lx.size > 2:
        residual = ly - (intercept + slope * lx)
        spread = np.sum((lx - lx.mean()) ** 2)
        stderr = float(np.sqrt(np.sum(residual**2) / (lx.size - 2) / spread))
    return PowerLawFit(float(slope), float(intercept), stderr, int(lx.size))
