"""Training factors and richness: a small CNN with and without BatchNorm over learning rates.

Nam et al. (2024, arXiv 2410.04264, their Table 2 and Figs. 3–4) measure D_LR of trained
networks as one training factor changes: BatchNorm shifts VGG16 on CIFAR-100 from lazy to rich
(D_LR 0.66 without, 0.073 with), and over learning rates up to instability (ResNet18,
lr 0.005 / 0.05 / 0.2: D_LR 0.053 / 0.025 / 0.039) a moderate learning rate is the richest
and the smallest the laziest. They also show that the baselines S_init (CKA to the initial
features) and the parameter norm mis-read weight decay, which moves them without making the
dynamics richer.

This experiment is that study at CPU scale: the 1-D CNN of :mod:`infodyn.models.cnn` (two conv
blocks of ``model.channels``, a fully connected layer of ``model.hidden`` = p features, a
linear head) on ``mnist1d`` (or the 2-D CNN on ``digits``), ``model.batchnorm`` putting a
BatchNorm after each convolution; SGD with momentum on cross-entropy, a fresh shuffle per
epoch, for ``epochs`` epochs (``steps`` follows). The study::

    infodyn sweep richness-study --grid model.batchnorm=true,false \\
        --grid optim.lr=0.001,0.003,0.01,0.03,0.1 --seeds 3
    infodyn sweep richness-study --grid optim.weight_decay=0,0.005 \\
        --set model.batchnorm=true --seeds 3          # the baselines against weight decay
    infodyn compare SWEEP

Runs past the stability limit fail with a message naming ``optim.lr`` (at lr 0.1 the network
without BatchNorm dies in the last third of training); the sweep records them as failed and
the comparison's D_LR table lists them with the step they died at. Defaults: 100 epochs of
mnist1d's 4,000 training samples, batch 64, lr 0.03, momentum 0.9, channels 16/32, p = 128 (one
run: 35–52 s of run loop on one thread; the 30-run study 22 min at ``--workers 1``, both on
a 2-core machine shared with other jobs; docs/dynamical-richness.md has the results).

What is recorded (see :mod:`infodyn.experiments._richness`): D_LR and its three curves on a
fixed training subset (the reported value) and a test subset, in eval mode (BatchNorm's
running statistics); S_init and ‖θ‖²; loss and accuracy of both sets. ``infodyn compare`` adds
the D_LR table per setting, the three panels per setting and a verdict per claim
(:mod:`infodyn.experiments.richness_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch.nn import functional as F

from infodyn.config import StrictConfig
from infodyn.data.datasets import load_dataset
from infodyn.experiments._epochs import EpochOrder, derived_steps, train_count
from infodyn.experiments._richness import (
    RichnessMonitorConfig,
    RichnessSetup,
    check_finite_loss,
    check_weight_decay,
    finish_setup,
    measure_schedule,
    richness_headlines,
    richness_log_values,
    richness_probe_plan,
)
from infodyn.experiments.base import (
    Experiment,
    ExperimentConfig,
    LoopSchedules,
    ProbePlan,
    StepResult,
    register,
)
from infodyn.models.cnn import ModelKind, build_classifier
from infodyn.schedules import AnyOf, at_steps, every
from infodyn.store import RunStore
from infodyn.summary import ComparisonSummary, RunSummary

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = ["LR_GRID", "RICHNESS_STUDY", "RichnessStudy", "RichnessStudyConfig"]

#: The study's learning rates, up to instability: at 0.1 the network without BatchNorm dies
#: (its last hidden layer switches off) in every seed tried, at 0.3 the one with BatchNorm
#: falls to chance (docs/dynamical-richness.md).
LR_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
#: The CNN each dataset gets.
STUDY_DATASETS: dict[str, ModelKind] = {"mnist1d": "cnn1d", "digits": "cnn2d"}


class StudyDataConfig(StrictConfig):
    name: str = Field("mnist1d", description=f"one of {', '.join(STUDY_DATASETS)}")
    train_size: int | None = Field(None, description="class-balanced training subset (None: all)")
    test_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="digits only (mnist1d has a split)"
    )

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in STUDY_DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; richness-study runs its CNN on "
                f"{', '.join(STUDY_DATASETS)}"
            )
        return value


class StudyModelConfig(StrictConfig):
    batchnorm: bool = Field(
        False, description="BatchNorm after each convolution (VGG16-BN's place)"
    )
    channels: tuple[int, int] = Field((16, 32), description="channels of the two conv blocks")
    hidden: int = Field(
        128, ge=1, description="width p of the fully connected layer (the features)"
    )


class StudyOptimConfig(StrictConfig):
    lr: float = Field(0.03, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, description="SGD's L2 weight decay λ >= 0")
    batch_size: int = Field(64, ge=1)

    @field_validator("weight_decay")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        return check_weight_decay(value)


class RichnessStudyConfig(ExperimentConfig):
    experiment: Literal["richness-study"] = "richness-study"
    steps: int = Field(0, ge=0, description="derived: epochs × steps per epoch (leave unset)")
    threads: int = Field(1, ge=1, description="torch threads (the model is small)")
    epochs: int = Field(100, ge=1)
    data: StudyDataConfig = StudyDataConfig()
    model: StudyModelConfig = StudyModelConfig()
    optim: StudyOptimConfig = StudyOptimConfig()
    monitor: RichnessMonitorConfig = RichnessMonitorConfig()

    @property
    def steps_per_epoch(self) -> int:
        """⌈training samples / batch size⌉."""
        d = self.data
        n = train_count(d.name, self.seed, d.train_size, d.test_fraction)
        return -(-n // self.optim.batch_size)

    @model_validator(mode="after")
    def _derive_steps(self) -> RichnessStudyConfig:
        steps = derived_steps(self.epochs, self.steps_per_epoch, self.steps)
        object.__setattr__(self, "steps", steps)  # a frozen model: set once, here
        return self


@dataclass
class StudySetup(RichnessSetup):
    order: EpochOrder | None = None


class RichnessStudy(Experiment[RichnessStudyConfig, StudySetup]):
    """A small CNN with/without BatchNorm over learning rates: which is richer (Nam et al.)."""

    name = "richness-study"
    description = (
        "small CNN with/without BatchNorm over learning rates (and weight decay): D_LR, "
        "S_init, ‖θ‖², accuracy (Nam et al.)"
    )
    config_type = RichnessStudyConfig

    def build(self, config: RichnessStudyConfig, device: torch.device) -> StudySetup:
        d, m, o = config.data, config.model, config.optim
        data = load_dataset(
            d.name, seed=config.seed, train_size=d.train_size, test_fraction=d.test_fraction
        ).to(device)
        model = build_classifier(
            STUDY_DATASETS[d.name],
            data.input_shape,
            data.num_classes,
            channels=m.channels,
            hidden=m.hidden,
            batchnorm=m.batchnorm,
        ).to(device)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
        order = EpochOrder(data.y_train.numel(), o.batch_size, seed=config.seed + 1)
        setup = StudySetup(
            model=model, optimizer=optimizer, stateful={"order": order}, data=data, order=order
        )
        return finish_setup(setup, config.steps, config.monitor, config.seed, o.lr)

    def train_step(self, setup: StudySetup, step: int) -> StepResult:
        data = setup.dataset
        assert setup.order is not None
        idx = setup.order.batch(step).to(data.x_train.device)
        x, y = data.x_train[idx], data.y_train[idx]
        setup.model.train()
        loss = F.cross_entropy(setup.model(x), y)
        check_finite_loss(loss, step, setup.lr)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
        return StepResult(inputs=x, labels=y)

    def schedules(self, config: RichnessStudyConfig) -> LoopSchedules:
        mon = config.monitor
        return LoopSchedules(
            log=AnyOf((every(mon.log_every), measure_schedule(config.steps, mon))),
            checkpoint=AnyOf((every(mon.checkpoint_every), at_steps(config.steps))),
        )

    def probes(self, setup: StudySetup, config: RichnessStudyConfig) -> ProbePlan:
        return richness_probe_plan(setup, config.monitor, config.seed)

    def log_values(self, setup: StudySetup, step: int) -> dict[str, dict[str, float]]:
        return richness_log_values(setup, step)

    def summarize(self, store: RunStore, config: RichnessStudyConfig) -> RunSummary:
        return RunSummary(headlines=richness_headlines(store, config.monitor.span))

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        from infodyn.experiments.richness_report import summarize_richness

        return summarize_richness(comparison)


RICHNESS_STUDY = register(RichnessStudy())
