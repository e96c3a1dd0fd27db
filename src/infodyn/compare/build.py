"""Build a comparison: group the loaded runs, align their curves, and compute every statistic.

The result, :class:`Comparison`, is all that the figures, the page, ``compare.json`` and the
terminal table read; none of them opens a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infodyn.compare.groups import Group, check_group_keys, group_runs, infer_group_keys
from infodyn.compare.load import CompareError, LoadedRuns, SeriesKey
from infodyn.compare.stats import (
    BAND_KINDS,
    BandKind,
    SeedBand,
    ValueStats,
    align_on_shared_steps,
    seed_band,
    value_stats,
)
from infodyn.summary import Headline

__all__ = ["Comparison", "FinalValue", "GroupResult", "build_comparison", "series_label"]

_FIRST_METRICS = ("accuracy", "loss")
_SPLIT_RANK = {"train": 0, "test": 1}


@dataclass(frozen=True)
class FinalValue:
    """A metric's value at the last step shared by every run of a group, across those runs."""

    step: int
    stats: ValueStats


@dataclass(frozen=True, eq=False)
class GroupResult:
    """Everything computed for one group.

    Attributes:
        group: The group and its runs.
        bands: Mean curve and band per series recorded by every run of the group (with at
            least one step in common).
        finals: Per such series, the value at the last shared step.
        headlines: Per headline key, its statistics over the group's runs (missing in a run's
            summary counts as not reached).
    """

    group: Group
    bands: dict[SeriesKey, SeedBand]
    finals: dict[SeriesKey, FinalValue]
    headlines: dict[str, ValueStats]

    @property
    def n(self) -> int:
        """Number of runs in the group."""
        return len(self.group.runs)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Runs of one experiment, grouped, with curves and statistics per group.

    Attributes:
        experiment: The experiment.
        keys: The grouping keys (dotted config keys).
        keys_inferred: True when ``keys`` were inferred rather than given with ``--by``.
        band: ``"std"`` or ``"minmax"``.
        groups: One result per group, in the order of their values.
        series_keys: Series recorded by every run of at least one group: accuracy and loss
            first, then by name; train before test.
        headlines: The headline columns (value None), in first-seen order over the runs.
        loaded: The runs and the inputs they came from.
    """

    experiment: str
    keys: tuple[str, ...]
    keys_inferred: bool
    band: BandKind
    groups: tuple[GroupResult, ...]
    series_keys: tuple[SeriesKey, ...]
    headlines: tuple[Headline, ...]
    loaded: LoadedRuns


def series_label(key: SeriesKey) -> str:
    """``metric/split`` or ``metric/split [layer]``.

    Example:
        >>> series_label(("mir", "test", "head:input")), series_label(("loss", "train", ""))
        ('mir/test [head:input]', 'loss/train')
    """
    metric, split, layer = key
    return f"{metric}/{split}" + (f" [{layer}]" if layer else "")


def _series_order(key: SeriesKey) -> tuple[int, str, int, str, str]:
    metric, split, layer = key
    first = _FIRST_METRICS.index(metric) if metric in _FIRST_METRICS else len(_FIRST_METRICS)
    return (first, metric, _SPLIT_RANK.get(split, len(_SPLIT_RANK)), split, layer)


def _group_result(group: Group, band: BandKind, headlines: Sequence[Headline]) -> GroupResult:
    runs = group.runs
    common = set(runs[0].series).intersection(*(r.series for r in runs[1:]))
    bands: dict[SeriesKey, SeedBand] = {}
    finals: dict[SeriesKey, FinalValue] = {}
    for key in sorted(common, key=_series_order):
        aligned = align_on_shared_steps([r.series[key] for r in runs])
        if aligned.steps.size == 0:
            continue  # recorded by every run, but never at one step all of them share
        bands[key] = seed_band(aligned, band)
        last = aligned.values[:, -1]
        finals[key] = FinalValue(int(aligned.steps[-1]), value_stats([float(v) for v in last]))
    per_headline = {}
    for h in headlines:
        found = [r.summary.headline(h.key) for r in runs]
        per_headline[h.key] = value_stats([x.value if x is not None else None for x in found])
    return GroupResult(group, bands, finals, per_headline)


def build_comparison(
    loaded: LoadedRuns, *, by: Sequence[str] | None = None, band: BandKind = "std"
) -> Comparison:
    """Group ``loaded`` runs and compute each group's curves, final values and headlines.

    Args:
        loaded: Runs from :func:`infodyn.compare.load.load_runs`.
        by: Dotted config keys to group by; None infers them (:func:`infer_group_keys`).
        band: ``"std"`` (mean ± sample std across runs) or ``"minmax"``.

    Raises:
        CompareError: A ``by`` key no run has; an unknown band; no scalar series recorded by
            every run of any group.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.compare.load import load_runs
        >>> from infodyn.rundir import RunDir
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for seed, final in ((0, 0.5), (1, 0.7)):
        ...         run = RunDir.create(pathlib.Path(d) / f"s{seed}",
        ...                             {"experiment": "grokking", "seed": seed})
        ...         with run.store() as store:
        ...             store.write([Scalar(0, "test", "accuracy", 0.0),
        ...                          Scalar(9, "test", "accuracy", final)])
        ...     comparison = build_comparison(load_runs(sorted(pathlib.Path(d).iterdir())))
        >>> (only,) = comparison.groups
        >>> only.group.label, only.n, only.finals[("accuracy", "test", "")].stats.text()
        ('all runs', 2, '0.6 ± 0.14 (n=2 of 2)')
    """
    if band not in BAND_KINDS:
        raise CompareError(f"--band {band!r} is not one of {BAND_KINDS}; pass std or minmax")
    runs = loaded.runs
    if by is None:
        keys, inferred = infer_group_keys(runs, loaded.swept_keys), True
    else:
        keys, inferred = tuple(dict.fromkeys(by)), False
        check_group_keys(runs, keys)
    headlines: dict[str, Headline] = {}
    for run in runs:
        for h in run.summary.headlines:
            headlines.setdefault(h.key, Headline(h.key, h.label, None, h.fmt))
    results = tuple(
        _group_result(g, band, list(headlines.values())) for g in group_runs(runs, keys)
    )
    shared = sorted({k for r in results for k in r.bands}, key=_series_order)
    if not shared:
        groups = "; ".join(f"{r.group.label} ({r.n} runs)" for r in results)
        raise CompareError(
            f"no shared scalar metric: no (metric, split, layer) series is recorded at a common "
            f"step by every run of any group ({groups}); compare runs that recorded the same "
            f"metrics"
        )
    return Comparison(
        loaded.experiment,
        keys,
        inferred,
        band,
        results,
        tuple(shared),
        tuple(headlines.values()),
        loaded,
    )
