"""What every experiment provides: a config type and a run function; the registry of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import field_validator

from infodyn.config import StrictConfig
from infodyn.rundir import RunDir

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(step, total_steps)`` after each step."""


class ExperimentConfig(StrictConfig):
    """Fields every experiment has."""

    experiment: str
    seed: int = 0
    steps: int
    threads: int = 2
    device: str = "cpu"

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        try:
            device = torch.device(value)
        except RuntimeError:
            raise ValueError(f"not a torch device: {value!r} (use 'cpu' or 'cuda:0')") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{value!r} asked for, but no CUDA device is available; use cpu")
        return value


@dataclass(frozen=True)
class Experiment:
    """A named, reproducible training run that records into a run directory."""

    name: str
    description: str
    config_type: type[ExperimentConfig]
    run: Callable[[Any, RunDir, ProgressCallback], dict[str, Any]]


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    _REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a clear error lists the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def experiment_names() -> list[str]:
    return sorted(_REGISTRY)
