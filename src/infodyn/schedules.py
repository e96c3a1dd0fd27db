"""When to measure: schedules are small objects answering ``schedule(step) -> bool``.

Cheap metrics (loss, accuracy) run often, expensive ones (eigen-decompositions) rarely; a
log-spaced schedule puts its points where training changes fastest, at the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Schedule(Protocol):
    """Anything that says whether to measure at a given optimisation step."""

    def __call__(self, step: int) -> bool: ...


@dataclass(frozen=True)
class Every:
    """Measure at every ``n``-th step, starting at step ``start`` (inclusive).

    Example:
        >>> s = every(10)
        >>> [t for t in range(35) if s(t)]
        [0, 10, 20, 30]
    """

    n: int
    start: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"every(n) needs n >= 1, got n={self.n}")
        if self.start < 0:
            raise ValueError(f"every(start=...) needs start >= 0, got start={self.start}")

    def __call__(self, step: int) -> bool:
        return step >= self.start and (step - self.start) % self.n == 0


@dataclass(frozen=True)
class LogSpaced:
    """Measure at ``points`` integer steps spaced evenly in log(step) between start and stop.

    Step 0 (the untrained network) is always included when ``include_zero`` is true, and
    rounding duplicates at small steps are merged, so the set may hold slightly fewer than
    ``points`` distinct steps when ``stop / start`` is small; :attr:`steps` lists them.

    Example:
        >>> s = log_spaced(start=1, stop=1000, points=4)
        >>> s.steps
        (0, 1, 10, 100, 1000)
        >>> s(100), s(101)
        (True, False)
    """

    start: int
    stop: int
    points: int
    include_zero: bool = True
    steps: tuple[int, ...] = field(init=False)
    _lookup: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start < 1:
            raise ValueError(f"log_spaced needs start >= 1 (log of 0), got start={self.start}")
        if self.stop < self.start:
            raise ValueError(
                f"log_spaced needs stop >= start, got start={self.start}, stop={self.stop}"
            )
        if self.points < 2:
            raise ValueError(f"log_spaced needs points >= 2, got points={self.points}")
        lo, hi = math.log(self.start), math.log(self.stop)
        grid = {round(math.exp(lo + (hi - lo) * i / (self.points - 1))) for i in range(self.points)}
        if self.include_zero:
            grid.add(0)
        object.__setattr__(self, "steps", tuple(sorted(grid)))
        object.__setattr__(self, "_lookup", frozenset(grid))

    def __call__(self, step: int) -> bool:
        return step in self._lookup


@dataclass(frozen=True)
class AnyOf:
    """Measure when any of the given schedules fires (e.g. log-spaced plus the final step)."""

    schedules: tuple[Schedule, ...]

    def __call__(self, step: int) -> bool:
        return any(s(step) for s in self.schedules)


def every(n: int, start: int = 0) -> Every:
    """Schedule firing at steps ``start, start + n, start + 2n, …``."""
    return Every(n=n, start=start)


def log_spaced(start: int, stop: int, points: int, *, include_zero: bool = True) -> LogSpaced:
    """Schedule firing at ``points`` log-spaced steps in [start, stop] (and step 0)."""
    return LogSpaced(start=start, stop=stop, points=points, include_zero=include_zero)


@dataclass(frozen=True)
class AtSteps:
    """Measure exactly at the given steps.

    Example:
        >>> at_steps(3, 7)(7), at_steps(3, 7)(5)
        (True, False)
    """

    steps: frozenset[int]

    def __call__(self, step: int) -> bool:
        return step in self.steps


def at_steps(*steps: int) -> AtSteps:
    """Schedule firing exactly at the given steps."""
    return AtSteps(frozenset(steps))
