"""A stand-in run summary for comparisons: the final accuracy and loss of every split.

``infodyn compare`` reads each run through a ``summarize(run) -> RunSummary`` callable. The
experiments' own summaries (``infodyn.runner.summarize_run``, e.g. grokking's fit and
generalisation steps) replace this stand-in in :mod:`infodyn.compare.cli` once they exist;
everything downstream only reads :attr:`RunSummary.headlines`.
"""

from __future__ import annotations

from infodyn.rundir import RunDir
from infodyn.summary import Headline, RunSummary

__all__ = ["final_values_summary"]

#: Metrics whose last recorded value becomes a headline, in table order.
_HEADLINE_METRICS = ("accuracy", "loss")
_SPLIT_ORDER = ("train", "test")


def final_values_summary(run: RunDir) -> RunSummary:
    """Headlines ``final_<split>_<metric>`` for the run-level ``accuracy`` and ``loss`` scalars.

    Each headline is the value at the last step the run recorded for that metric and split
    (layer ``""`` only: run-level quantities). Splits come train, test, then the others by name.

    Args:
        run: A run directory.

    Returns:
        A :class:`RunSummary` with those headlines and no step markers.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunDir.create(pathlib.Path(d) / "r", {"experiment": "grokking"})
        ...     with run.store() as store:
        ...         store.write([Scalar(0, "test", "accuracy", 0.1),
        ...                      Scalar(9, "test", "accuracy", 0.75)])
        ...     summary = final_values_summary(run)
        >>> [(h.key, h.label, h.value) for h in summary.headlines]
        [('final_test_accuracy', 'final test accuracy', 0.75)]
    """
    with run.store(readonly=True) as store:
        keys = store.keys()
        headlines = []
        for metric in _HEADLINE_METRICS:
            splits = {split for m, split, layer in keys if m == metric and layer == ""}
            ordered = [s for s in _SPLIT_ORDER if s in splits] + sorted(splits - {*_SPLIT_ORDER})
            for split in ordered:
                _, values = store.series(metric, split, layer="")
                headlines.append(
                    Headline(
                        key=f"final_{split}_{metric}",
                        label=f"final {split} {metric}",
                        value=float(values[-1]),
                    )
                )
    return RunSummary(headlines=tuple(headlines))
