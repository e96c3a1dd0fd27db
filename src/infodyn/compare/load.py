"""Resolve the inputs of a comparison: run and sweep directories → the runs to compare.

A run directory is taken as it is. A sweep directory (one holding ``sweep.json``) expands to
its runs whose state is ``finished``; the others are kept as :class:`SkippedRun` so the
report can say how many were left out and why. Every run must belong to one experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infodyn.rundir import NotARunDirectoryError, RunDir
from infodyn.summary import RunSummary
from infodyn.sweep import MANIFEST_NAME, load_manifest

__all__ = [
    "CompareError",
    "ComparedRun",
    "LoadedRuns",
    "SeriesKey",
    "SkippedRun",
    "load_runs",
]

#: ``(metric, split, layer)``: one scalar series of a run store.
SeriesKey = tuple[str, str, str]
Summarize = Callable[[RunDir], RunSummary]


class CompareError(ValueError):
    """The inputs cannot be compared; the message names the input and what to change."""


@dataclass(frozen=True, eq=False)
class ComparedRun:
    """One run with everything a comparison reads from it.

    Attributes:
        name: Display name: the run directory's name, ``<sweep>/<run>`` for a sweep's run.
        run: Its directory.
        config: Its decoded ``config.json``.
        summary: What ``summarize`` said about it (headline values).
        series: Every scalar series of its store, ``{(metric, split, layer): (steps, values)}``.
    """

    name: str
    run: RunDir
    config: dict[str, Any]
    summary: RunSummary
    series: dict[SeriesKey, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SkippedRun:
    """A sweep's run left out of the comparison.

    Attributes:
        name: ``<sweep>/<run>``.
        state: Its manifest state (``pending``, ``running``, ``failed``), or ``missing`` when
            the manifest says finished but the run directory is gone or incomplete.
        error: The failure message a failed run recorded, if any.
    """

    name: str
    state: str
    error: str | None = None


@dataclass(frozen=True)
class LoadedRuns:
    """The runs of a comparison and where they came from.

    Attributes:
        experiment: The experiment every run belongs to.
        runs: The runs, in input order (a sweep's runs in manifest order), each once.
        swept_keys: The union of the sweeps' grid keys, in first-seen order (empty without
            sweeps).
        skipped: Sweep runs that were not finished.
        inputs: The paths given.
    """

    experiment: str
    runs: tuple[ComparedRun, ...]
    swept_keys: tuple[str, ...]
    skipped: tuple[SkippedRun, ...]
    inputs: tuple[Path, ...]


def _names(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _expand(
    path: Path,
) -> tuple[list[tuple[str, RunDir]], list[SkippedRun], list[str]]:
    """The ``(name, run)`` pairs of one input, the sweep runs skipped, and its grid keys."""
    if (path / MANIFEST_NAME).is_file():
        try:
            manifest = load_manifest(path)
        except ValueError as err:
            raise CompareError(str(err)) from None
        found, skipped = [], []
        for entry in manifest.runs:
            name = f"{path.resolve().name}/{entry.name}"
            if entry.state != "finished":
                skipped.append(SkippedRun(name, entry.state, entry.error))
                continue
            try:
                found.append((name, RunDir.open(path / entry.name)))
            except NotARunDirectoryError:
                skipped.append(SkippedRun(name, "missing", "no complete run directory"))
        return found, skipped, list(manifest.grid)
    try:
        return [(path.resolve().name, RunDir.open(path))], [], []
    except NotARunDirectoryError:
        pass
    hint = "pass directories written by `infodyn run` or `infodyn sweep`"
    if not path.exists():
        raise CompareError(f"{path} does not exist; {hint}")
    raise CompareError(
        f"{path} is neither a run directory (config.json + run.sqlite) nor a sweep directory "
        f"({MANIFEST_NAME}); {hint}"
    )


def _check_one_experiment(pairs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    by_experiment: dict[str, list[str]] = {}
    for name, config in pairs:
        experiment = config.get("experiment")
        by_experiment.setdefault(str(experiment), []).append(name)
    if len(by_experiment) > 1:
        parts = [f"{exp!r} ({_names(names)})" for exp, names in by_experiment.items()]
        raise CompareError(
            f"runs of different experiments: {' and '.join(parts)}; compare runs of one "
            f"experiment at a time"
        )
    return next(iter(by_experiment))


def _read_series(run: RunDir) -> dict[SeriesKey, tuple[np.ndarray, np.ndarray]]:
    with run.store(readonly=True) as store:
        return {key: store.series(*key) for key in store.keys()}


def load_runs(paths: Sequence[Path], *, summarize: Summarize | None = None) -> LoadedRuns:
    """Open every run named by ``paths`` (run or sweep directories) for a comparison.

    Args:
        paths: Run directories and sweep directories, in any mix. A run reached twice (listed
            and inside a listed sweep) is compared once.
        summarize: ``run -> RunSummary``; its headlines fill the comparison's table. Default:
            the run's experiment's own summary (:func:`infodyn.runner.summarize_run`).

    Returns:
        The runs with their configs, summaries and scalar series.

    Raises:
        CompareError: No paths; a path that is neither a run nor a sweep directory; no
            finished run at all; runs of different experiments.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunDir.create(pathlib.Path(d) / "a", {"experiment": "grokking"})
        ...     with run.store() as store:
        ...         store.write([Scalar(0, "train", "loss", 2.0), Scalar(5, "train", "loss", 1.0)])
        ...     loaded = load_runs([run.root])
        >>> loaded.experiment, [r.name for r in loaded.runs], loaded.runs[0].series.keys()
        ('grokking', ['a'], dict_keys([('loss', 'train', '')]))
    """
    if summarize is None:
        from infodyn.runner import summarize_run

        summarize = summarize_run
    if not paths:
        raise CompareError(
            "no runs to compare: pass one or more run or sweep directories, e.g. "
            "`infodyn compare runs/a runs/b` or `infodyn compare sweeps/wd`"
        )
    found: list[tuple[str, RunDir]] = []
    skipped: list[SkippedRun] = []
    swept: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        pairs, skips, grid_keys = _expand(Path(path))
        skipped.extend(skips)
        swept.extend(k for k in grid_keys if k not in swept)
        for name, run in pairs:
            if run.root.resolve() not in seen:
                seen.add(run.root.resolve())
                found.append((name, run))
    if not found:
        raise CompareError(
            f"no finished runs to compare: {len(skipped)} sweep run(s) skipped as not finished "
            f"({_names([f'{s.name} ({s.state})' for s in skipped])}); wait for the sweep or "
            f"resume it"
        )
    configs = [(name, run.config()) for name, run in found]
    experiment = _check_one_experiment(configs)
    runs = tuple(
        ComparedRun(name, run, config, summarize(run), _read_series(run))
        for (name, run), (_, config) in zip(found, configs, strict=True)
    )
    return LoadedRuns(experiment, runs, tuple(swept), tuple(skipped), tuple(map(Path, paths)))
