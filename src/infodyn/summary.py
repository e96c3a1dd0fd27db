"""What an experiment says about one of its runs: headline values and step markers.

Figures, the run report, ``infodyn run``/``list`` and ``infodyn compare`` show a run through a
:class:`RunSummary`. The experiment computes it from the store (e.g. grokking finds the steps
at which train accuracy fit and test accuracy generalised); the viewers only draw what it
holds, so no viewer knows any experiment by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NO_MARKERS", "Headline", "Marker", "RunSummary", "Span", "StepMarkers"]


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``step`` on every step axis, with its legend ``label``."""

    step: int
    label: str
    color: str = "0.35"
    linestyle: str = ":"


@dataclass(frozen=True)
class Span:
    """A shaded stretch of steps ``[start, end]`` on every step axis."""

    start: int
    end: int
    label: str
    color: str = "tab:green"
    alpha: float = 0.08


@dataclass(frozen=True)
class StepMarkers:
    """Everything drawn on a run's step axes besides its curves.

    Attributes:
        lines: Vertical marker lines.
        spans: Shaded stretches.
        caption: One line appended to figure titles (e.g. when the run fit and generalised);
            empty for none.
    """

    lines: tuple[Marker, ...] = ()
    spans: tuple[Span, ...] = ()
    caption: str = ""


#: No markers at all: figures of a store that no experiment summarised.
NO_MARKERS = StepMarkers()


@dataclass(frozen=True)
class Headline:
    """One headline value of a run, e.g. the step at which test accuracy reached 0.9.

    Attributes:
        key: Stable machine name (``"generalize_step"``); comparisons group on it.
        label: What a person reads (``"test acc ≥ 0.9 at step"``).
        value: The number, or None when the run never got there.
        fmt: ``str.format`` pattern for the number.
    """

    key: str
    label: str
    value: float | None
    fmt: str = "{:.4g}"

    def text(self) -> str:
        """The value formatted for a table: ``"—"`` for None, ``"NaN"`` for NaN.

        Example:
            >>> Headline("fit_step", "train acc ≥ 0.99 at step", 195, "{:,.0f}").text()
            '195'
            >>> Headline("ratio", "delay", None).text()
            '—'
        """
        if self.value is None:
            return "—"
        if isinstance(self.value, float) and math.isnan(self.value):
            return "NaN"
        return self.fmt.format(self.value)


@dataclass(frozen=True)
class RunSummary:
    """An experiment's reading of one run: headline values and step markers."""

    headlines: tuple[Headline, ...] = ()
    markers: StepMarkers = NO_MARKERS

    def headline(self, key: str) -> Headline | None:
        """The headline called ``key``, or None."""
        return next((h for h in self.headlines if h.key == key), None)
