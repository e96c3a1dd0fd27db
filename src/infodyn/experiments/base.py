"""What every experiment provides to the run loop, and the registry of experiments.

An experiment supplies only what is its own: a typed config, a build step (data, model,
optimiser), one training step, its probes, and a summary of a finished run (headline values
and figure markers). Seeding, device, run directory, store, monitor, checkpoints, resume,
timing and progress belong to :class:`infodyn.loop.RunLoop`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from infodyn.config import StrictConfig
from infodyn.monitor import Probe
from infodyn.schedules import Schedule
from infodyn.store import RunStore
from infodyn.summary import ComparisonSummary, RunSummary

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = [
    "BatchSource",
    "Experiment",
    "ExperimentConfig",
    "LoopSchedules",
    "ProbePlan",
    "ProgressCallback",
    "Setup",
    "StepResult",
    "experiment_names",
    "get_experiment",
    "register",
]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(step, total_steps)`` after each step."""

BatchSource = Callable[[], Iterable[tuple[Any, Tensor]]]
"""A re-iterable source of ``(inputs, labels)`` batches, called once per measurement."""


class ExperimentConfig(StrictConfig):
    """Fields every experiment has."""

    experiment: str
    seed: int = 0
    steps: int = Field(ge=1)
    threads: int = Field(2, ge=1, description="torch threads of this run")
    device: str = "cpu"
    keep_checkpoints: int = Field(2, ge=1, description="newest checkpoints kept for resuming")
    archive_checkpoints: int = Field(
        0,
        ge=0,
        description="also keep every k-th checkpoint for good, for `infodyn inspect` "
        "(0: none, 1: every one)",
    )

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


@dataclass
class Setup:
    """What an experiment's build step returns: at least a model and its optimiser.

    Experiments subclass it to carry their data. ``stateful`` names further objects with
    ``state_dict()``/``load_state_dict()`` (learning-rate schedulers, data-order generators)
    that checkpoints must keep for an exact resume.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    stateful: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """What one training step reports.

    Attributes:
        values: Scalars of the step itself (e.g. the batch loss), recorded as live values of
            the ``train`` split when the log schedule fires.
        inputs: The inputs of the step's forward pass, for live probes.
        labels: Their labels, for live probes.
    """

    values: Mapping[str, float] = field(default_factory=dict)
    inputs: Any = None
    labels: Tensor | None = None


@dataclass(frozen=True)
class ProbePlan:
    """An experiment's probes and the data its evaluation-pass probes are measured on.

    Attributes:
        probes: ``{name: Probe}``; live probes are fed from the training steps.
        evaluation: ``{split: batch source}`` for the eval-mode probes, measured on every split
            at each scheduled step.
        features: Module whose input is the feature matrix (default: the classifier head).
        head: The classifier head module (default: the last ``nn.Linear``).
        live_split: Split name of the values live probes record from the training batches.
    """

    probes: Mapping[str, Probe]
    evaluation: Mapping[str, BatchSource] = field(default_factory=dict)
    features: str | None = None
    head: str | None = None
    live_split: str = "train"


@dataclass(frozen=True)
class LoopSchedules:
    """When the run loop logs the experiment's cheap values and when it checkpoints."""

    log: Schedule
    checkpoint: Schedule


ConfigT = TypeVar("ConfigT", bound=ExperimentConfig)
SetupT = TypeVar("SetupT", bound=Setup)


class Experiment(ABC, Generic[ConfigT, SetupT]):
    """A named, reproducible training run on the run loop.

    Subclasses set :attr:`name`, :attr:`description`, :attr:`config_type` and implement the
    abstract methods; :func:`register` makes them available to the CLI.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    config_type: ClassVar[type[ExperimentConfig]]

    @abstractmethod
    def build(self, config: ConfigT, device: torch.device) -> SetupT:
        """Data, model (on ``device``) and optimiser, freshly initialised.

        The loop seeds torch, NumPy and ``random`` with ``config.seed`` just before.
        """

    @abstractmethod
    def train_step(self, setup: SetupT, step: int) -> StepResult:
        """One optimisation step (``step >= 1``); step 0 is the initialisation."""

    @abstractmethod
    def probes(self, setup: SetupT, config: ConfigT) -> ProbePlan:
        """The metrics to record, their schedules and modes, and the evaluation data."""

    @abstractmethod
    def schedules(self, config: ConfigT) -> LoopSchedules:
        """When to log :meth:`log_values` and when to checkpoint."""

    def log_values(self, setup: SetupT, step: int) -> Mapping[str, Mapping[str, float]]:
        """Cheap values measured at log steps, ``{split: {metric: value}}`` (eval mode)."""
        return {}

    @abstractmethod
    def summarize(self, store: RunStore, config: ConfigT) -> RunSummary:
        """Headline values and figure markers of a (finished or running) run."""

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        """Figures and tables of the experiment's own across the runs of ``infodyn compare``.

        Called when every compared run belongs to this experiment, after the generic
        comparison (groups, seed bands, headline statistics) is built; what it returns is
        shown after the page's generic content and recorded in ``compare.json``. The
        ``comparison`` holds each group's curves and headline statistics and, per run, its
        config, :class:`~infodyn.summary.RunSummary` and run directory (for arrays). The
        default adds nothing.
        """
        return ComparisonSummary()


_REGISTRY: dict[str, Experiment[Any, Any]] = {}


def register(experiment: Experiment[Any, Any]) -> Experiment[Any, Any]:
    """Make ``experiment`` available by its name (to ``infodyn run``, sweeps and reports)."""
    _REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment[Any, Any]:
    """The experiment called ``name``; a clear error lists the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def experiment_names() -> list[str]:
    """Names of the registered experiments, sorted."""
    return sorted(_REGISTRY)
