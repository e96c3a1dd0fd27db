"""Start or resume an experiment in a run directory, then draw its figures and report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infodyn.config import ConfigError, build_config
from infodyn.experiments import get_experiment
from infodyn.experiments.base import ExperimentConfig, ProgressCallback
from infodyn.report import write_report
from infodyn.rundir import RunDir, new_run_dir
from infodyn.viz import draw_run_figures


@dataclass(frozen=True)
class RunResult:
    run: RunDir
    final: dict[str, Any]
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


def execute(run: RunDir, config: ExperimentConfig, progress: ProgressCallback) -> RunResult:
    """Train (or continue training) ``run`` to the end, then write figures and the report."""
    final = get_experiment(config.experiment).run(config, run, progress)
    figures = draw_run_figures(run)
    report = write_report(run, redraw=False)
    return RunResult(run, final, figures, report)


def describe(result: RunResult) -> str:
    """A short JSON summary of the finished run's final values."""
    return json.dumps({k: round(v, 6) for k, v in result.final.items()}, indent=2)
