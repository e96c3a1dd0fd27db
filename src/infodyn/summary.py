"""What an experiment says about its runs: headlines, step markers, extra figures and tables.

Figures, the run report, ``infodyn run``/``list`` and ``infodyn compare`` show a run through a
:class:`RunSummary`. The experiment computes it from the store (e.g. grokking finds the steps
at which train accuracy fit and test accuracy generalised); the viewers only draw what it
holds, so no viewer knows any experiment by name. Across the runs of ``infodyn compare`` an
experiment may add figures and tables of its own: a :class:`ComparisonSummary`, which the
comparison page shows after its generic content and ``compare.json`` records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infodyn.store import RunStore

__all__ = [
    "NO_MARKERS",
    "Claim",
    "ComparisonFigure",
    "ComparisonSummary",
    "ComparisonTable",
    "FigureSpec",
    "Headline",
    "Marker",
    "RunSummary",
    "Span",
    "StepMarkers",
]


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
class FigureSpec:
    """One figure drawn from a run's store.

    Attributes:
        filename: PNG name inside the run's ``figures/``.
        caption: One line for the report.
        metrics: Scalar metrics the figure reads; it is drawn when any of them is stored.
        draw: ``(store, markers) -> (fig, axes)``; ``markers`` are the experiment's step
            markers (figures without a step axis ignore them).
    """

    filename: str
    caption: str
    metrics: tuple[str, ...]
    draw: Callable[[RunStore, StepMarkers], tuple[Any, Any]]

    def applies_to(self, store: RunStore) -> bool:
        """Whether ``store`` holds any metric this figure reads."""
        stored = {m for m, _, _ in store.keys()}
        return any(m in stored for m in self.metrics)


@dataclass(frozen=True)
class RunSummary:
    """An experiment's reading of one run.

    Attributes:
        headlines: Headline values, shown by the report, ``infodyn run``/``list`` and compared
            across runs by ``infodyn compare``.
        markers: Drawn on every step axis of the run's figures.
        figures: Figures of the experiment's own, drawn after the built-in ones.
    """

    headlines: tuple[Headline, ...] = ()
    markers: StepMarkers = NO_MARKERS
    figures: tuple[FigureSpec, ...] = ()

    def headline(self, key: str) -> Headline | None:
        """The headline called ``key``, or None."""
        return next((h for h in self.headlines if h.key == key), None)


@dataclass(frozen=True, eq=False)
class ComparisonFigure:
    """A figure an experiment draws across the runs of a comparison.

    Attributes:
        filename: PNG name inside the comparison's ``figures/`` (made unique if taken).
        title: Short title, the image's alt text.
        caption: One paragraph for the page: what is drawn and from which runs.
        figure: The drawn ``matplotlib.figure.Figure`` (saved at the report's resolution).
    """

    filename: str
    title: str
    caption: str
    figure: Any


@dataclass(frozen=True)
class Claim:
    """A paper's claim with the verdict of a run or a comparison, and the numbers behind it."""

    key: str
    text: str
    verdict: str
    evidence: str


@dataclass(frozen=True, eq=False)
class ComparisonTable:
    """A table an experiment computes across the groups of a comparison.

    Attributes:
        key: Stable machine name; ``compare.json`` holds the table under ``tables[key]``.
        title: Heading on the page.
        caption: One paragraph under the heading: how the numbers were computed.
        columns: Column headings, the first one over the row labels.
        rows: Display text, one tuple per row, as long as ``columns``.
        record: JSON-encodable values for ``compare.json`` beside the display text (e.g. a
            fitted slope with its standard error); NaN is not JSON, use None.

    Raises:
        ValueError: A row whose length differs from ``columns``.
    """

    key: str
    title: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    record: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key!r}: row {i} has {len(row)} cells but there are "
                    f"{len(self.columns)} columns; give one cell per column"
                )


@dataclass(frozen=True, eq=False)
class ComparisonSummary:
    """An experiment's own reading of the runs of one comparison.

    Returned by :meth:`infodyn.experiments.base.Experiment.summarize_comparison`; ``infodyn
    compare`` shows the tables, then the figures, after its generic content, and writes both
    into ``compare.json`` (``tables`` and ``experiment_figures``).

    Attributes:
        tables: Tables, in page order.
        figures: Figures, in page order.
    """

    tables: tuple[ComparisonTable, ...] = ()
    figures: tuple[ComparisonFigure, ...] = ()
