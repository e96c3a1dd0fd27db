"""Statistics across the runs (seeds) of one group, as pure functions over numpy arrays.

Curves are compared on the steps every run of a group recorded — never interpolated — so a
band at step *t* is made only of values measured at *t*. Spreads are across runs: the sample
standard deviation (``ddof=1``, the usual across-seed error bar) or the min–max envelope.

NaN is kept, not skipped: a run that diverged at a step makes the group's mean and band NaN
there, so a figure shows a gap and a table shows ``NaN`` rather than a mean of the survivors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Literal

import numpy as np

__all__ = [
    "BAND_KINDS",
    "DEFAULT_FMT",
    "AlignedRuns",
    "BandKind",
    "SeedBand",
    "ValueStats",
    "align_on_shared_steps",
    "seed_band",
    "value_stats",
]

BandKind = Literal["std", "minmax"]
BAND_KINDS: tuple[BandKind, ...] = ("std", "minmax")
#: Number format of a statistic unless its headline gives one (as :class:`Headline` does).
DEFAULT_FMT = "{:.4g}"
_STD_FMT = "{:.2g}"


@dataclass(frozen=True, eq=False)
class AlignedRuns:
    """The runs' values on the steps all of them recorded.

    Attributes:
        steps: ``(t,)`` int64, ascending: the steps every run recorded.
        values: ``(n_runs, t)`` float64, row ``i`` from run ``i``.
        dropped: How many steps some run recorded but not every run (left out of ``steps``).
    """

    steps: np.ndarray
    values: np.ndarray
    dropped: int

    @property
    def n(self) -> int:
        """The number of runs."""
        return int(self.values.shape[0])


def _check_series(i: int, steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or values.shape != steps.shape:
        raise ValueError(
            f"series {i}: steps and values must be 1-D of equal length, got shapes "
            f"{steps.shape} and {values.shape}"
        )
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order].astype(np.int64), values[order]
    if steps.size > 1 and np.any(steps[1:] == steps[:-1]):
        raise ValueError(f"series {i}: a step occurs twice; each step needs one value per run")
    return steps, values


def align_on_shared_steps(series: Sequence[tuple[np.ndarray, np.ndarray]]) -> AlignedRuns:
    """Keep the steps that every run recorded, and count the ones left out.

    Args:
        series: One ``(steps (t_i,), values (t_i,))`` pair per run, steps unique, any order.

    Returns:
        The shared steps and the runs' values there; no value is interpolated.

    Raises:
        ValueError: ``series`` is empty, or a pair is malformed.

    Example:
        >>> import numpy as np
        >>> a = (np.array([0, 10, 20]), np.array([1.0, 2.0, 3.0]))
        >>> b = (np.array([20, 0, 30]), np.array([6.0, 5.0, 7.0]))
        >>> aligned = align_on_shared_steps([a, b])
        >>> aligned.steps.tolist(), aligned.values.tolist(), aligned.dropped
        ([0, 20], [[1.0, 3.0], [5.0, 6.0]], 2)
    """
    if not series:
        raise ValueError("series is empty; aligning needs the (steps, values) of at least one run")
    checked = [_check_series(i, s, v) for i, (s, v) in enumerate(series)]
    shared = reduce(np.intersect1d, (s for s, _ in checked))
    union = reduce(np.union1d, (s for s, _ in checked))
    values = np.stack([v[np.searchsorted(s, shared)] for s, v in checked]).reshape(
        len(checked), shared.size
    )
    return AlignedRuns(shared.astype(np.int64), values, int(union.size - shared.size))


@dataclass(frozen=True, eq=False)
class SeedBand:
    """A group's mean curve with its band across runs.

    Attributes:
        steps: ``(t,)`` the shared steps.
        mean: ``(t,)`` mean over runs.
        lower, upper: ``(t,)`` the band: mean ∓ sample std, or the min and max over runs. With
            one run the std band has zero width.
        n: Number of runs.
        kind: ``"std"`` or ``"minmax"``.
        dropped: Steps left out because not every run recorded them.
    """

    steps: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    kind: BandKind
    dropped: int


def seed_band(aligned: AlignedRuns, kind: BandKind = "std") -> SeedBand:
    """Mean over runs with a ± std (``ddof=1``) or min–max band, step by step.

    Args:
        aligned: Runs on shared steps, from :func:`align_on_shared_steps`.
        kind: ``"std"``: mean ± sample standard deviation (zero width for one run);
            ``"minmax"``: the lowest and highest run.

    Example:
        >>> import numpy as np
        >>> aligned = AlignedRuns(np.array([0, 1]), np.array([[1.0, 2.0], [3.0, 6.0]]), 0)
        >>> band = seed_band(aligned, "std")
        >>> band.mean.tolist(), band.lower.round(3).tolist(), band.upper.round(3).tolist()
        ([2.0, 4.0], [0.586, 1.172], [3.414, 6.828])
        >>> seed_band(aligned, "minmax").lower.tolist()
        [1.0, 2.0]
    """
    values = aligned.values
    if values.shape[0] == 0:
        raise ValueError("aligned holds no run; a band needs at least one run")
    mean = values.mean(axis=0)
    if kind == "std":
        spread = values.std(axis=0, ddof=1) if aligned.n > 1 else np.zeros_like(mean)
        lower, upper = mean - spread, mean + spread
    elif kind == "minmax":
        lower, upper = values.min(axis=0), values.max(axis=0)
    else:
        raise ValueError(f"band kind {kind!r} is not one of {BAND_KINDS}; pass 'std' or 'minmax'")
    return SeedBand(aligned.steps, mean, lower, upper, aligned.n, kind, aligned.dropped)


@dataclass(frozen=True)
class ValueStats:
    """Mean, spread and count of one value across the runs of a group.

    Attributes:
        mean: Mean of the values present, None when none is.
        std: Sample standard deviation (``ddof=1``), None with fewer than 2 values.
        min, max: Extremes of the values present, None when none is.
        n: How many runs have the value (a headline is None in runs that never reached it).
        total: How many runs the group has.
    """

    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    n: int
    total: int

    def text(self, fmt: str = DEFAULT_FMT, *, counts: bool = True) -> str:
        """``"mean ± std (n=k of m)"``; ``"— (0 of m)"`` when no run has a value.

        Args:
            fmt: ``str.format`` pattern of the numbers (a headline's ``fmt``). With the default
                the std gets 2 significant digits, enough for an error bar; with any other
                pattern (e.g. ``"{:,.0f}"`` for steps) the std uses the same pattern.
            counts: Append ``(n=k of m)``; with False it is appended only when some run has
                no value (``k < m``), for tables whose header already gives the group size.

        Example:
            >>> value_stats([5700.0, 5900.0, None]).text("{:,.0f}")
            '5,800 ± 141 (n=2 of 3)'
            >>> value_stats([0.51, 0.47, 0.5]).text(), value_stats([0.5, 0.47]).text(counts=False)
            ('0.4933 ± 0.021 (n=3 of 3)', '0.485 ± 0.021')
            >>> value_stats([None, None]).text()
            '— (0 of 2)'
        """
        if self.mean is None:
            return f"— (0 of {self.total})"
        std_fmt = _STD_FMT if fmt == DEFAULT_FMT else fmt

        def number(x: float, pattern: str) -> str:
            return "NaN" if math.isnan(x) else pattern.format(x)

        body = number(self.mean, fmt)
        if self.std is not None:
            body += f" ± {number(self.std, std_fmt)}"
        if counts or self.n < self.total:
            body += f" (n={self.n} of {self.total})"
        return body


def value_stats(values: Sequence[float | None]) -> ValueStats:
    """Statistics of one value over runs, None meaning "this run has no value".

    Args:
        values: One entry per run of the group; NaN counts as a value (and makes mean NaN).

    Example:
        >>> s = value_stats([1.0, None, 3.0])
        >>> s.mean, round(s.std, 4), s.min, s.max, s.n, s.total
        (2.0, 1.4142, 1.0, 3.0, 2, 3)
    """
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return ValueStats(None, None, None, None, 0, len(values))
    std = float(present.std(ddof=1)) if present.size > 1 else None
    return ValueStats(
        float(present.mean()),
        std,
        float(present.min()),
        float(present.max()),
        int(present.size),
        len(values),
    )
