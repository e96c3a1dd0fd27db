"""Start or resume an experiment in a run directory, then draw its figures and report."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infodyn.config import ConfigError, build_config
from infodyn.experiments import get_experiment
from infodyn.experiments.base import ExperimentConfig, ProgressCallback
from infodyn.explain import TIMELINE_NAME
from infodyn.loop import CheckpointCallback, RunLoop
from infodyn.report import write_report
from infodyn.rundir import RunDir, new_run_dir
from infodyn.sinks.base import RecordSink, Sinks
from infodyn.summary import RunSummary
from infodyn.viz import draw_run_figures


@dataclass(frozen=True)
class RunResult:
    """A finished (or resumed-to-the-end) run: its last values, summary, figures and report."""

    run: RunDir
    final: dict[str, Any]
    summary: RunSummary
    figures: list[Path]
    report: Path


def prepare_run(
    experiment: str,
    *,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    out: Path = Path("runs"),
) -> tuple[RunDir, ExperimentConfig]:
    """Validate the config and create a fresh run directory under ``out``."""
    spec = get_experiment(experiment)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder to hold run directories")
    config = build_config(spec.config_type, overrides)
    if seed is not None:
        config = config.model_copy(update={"seed": seed})
    run = RunDir.create(new_run_dir(out, experiment), config.model_dump(mode="json"))
    return run, config


def reopen_run(path: Path) -> tuple[RunDir, ExperimentConfig]:
    """Open an existing run directory and re-validate the config it was started with."""
    run = RunDir.open(path)
    saved = run.config()
    name = saved.get("experiment")
    if not isinstance(name, str):
        raise ConfigError(
            f"{run.config_path} has no 'experiment' key; it was not written by infodyn"
        )
    spec = get_experiment(name)
    return run, build_config(spec.config_type, base=saved)


def execute(
    run: RunDir,
    config: ExperimentConfig,
    progress: ProgressCallback | None = None,
    *,
    on_checkpoint: CheckpointCallback | None = None,
    sinks: Sequence[RecordSink] = (),
) -> RunResult:
    """Train (or continue training) ``run`` to the end, then write figures and the report.

    Args:
        run: A run directory created for ``config`` (a fresh one, or one to resume).
        config: The validated experiment config.
        progress: Called as ``progress(step, total)`` after each step.
        on_checkpoint: Called as ``on_checkpoint(step)`` after each checkpoint, once the
            store holds everything up to that step.
        sinks: Also send every record to these (TensorBoard, MLflow: :mod:`infodyn.sinks`),
            then the figures, the report and the store; a failing sink is only a warning.
    """
    experiment = get_experiment(config.experiment)
    group = Sinks(sinks)
    try:
        loop = RunLoop(
            experiment, config, run, progress=progress, on_checkpoint=on_checkpoint, sinks=group
        )
        final = loop.run()
        summary = summarize_run(run)
        figures = draw_run_figures(run, summary)
        report = write_report(run, summary, redraw=False)
        timeline = run.figures_dir / TIMELINE_NAME  # drawn with the report's explain section
        if timeline.is_file():
            figures.append(timeline)
        group.finish(figures, [report, run.store_path])
    finally:
        group.close()
    return RunResult(run, final, summary, figures, report)


def summarize_run(run: RunDir) -> RunSummary:
    """The run's experiment's reading of its store: headlines and figure markers.

    A run whose config names no registered experiment (e.g. a store written by a user's own
    :class:`~infodyn.Monitor`) gets an empty summary: no headlines, no markers.
    """
    saved = run.config()
    name = saved.get("experiment")
    with run.store(readonly=True) as store:
        try:
            experiment = get_experiment(name) if isinstance(name, str) else None
        except ValueError:
            experiment = None
        if experiment is None:
            return RunSummary()
        try:
            config = build_config(experiment.config_type, base=saved)
        except ConfigError as err:
            warnings.warn(
                f"{run.config_path} does not validate as a {name} config ({err}); the run is "
                f"shown without the experiment's headlines and markers",
                stacklevel=2,
            )
            return RunSummary()
        return experiment.summarize(store, config)


def redraw(run: RunDir) -> tuple[list[Path], Path]:
    """Redraw every figure of ``run`` from its store and rewrite its report."""
    summary = summarize_run(run)
    figures = draw_run_figures(run, summary)
    return figures, write_report(run, summary, redraw=False)
