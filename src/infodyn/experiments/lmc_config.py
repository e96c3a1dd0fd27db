"""The typed config of the linear-mode-connectivity experiment (:mod:`infodyn.experiments.lmc`).

Every field can be set with ``--set key=value`` (``--set alphas=[0,0.25,0.5,0.75,1]``); unknown
keys and bad values are errors that name the key, the value and what to use instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from infodyn.config import StrictConfig
from infodyn.experiments.base import ExperimentConfig
from infodyn.experiments.lmc_path import check_alphas

__all__ = ["DEFAULT_ALPHAS", "LMC_DATASETS", "LMCConfig"]

#: Datasets whose samples a small CNN can take: 8×8 digit images and length-40 signals.
LMC_DATASETS = ("digits", "mnist1d")
#: 11 evenly spaced points from A (α = 0) to B (α = 1).
DEFAULT_ALPHAS = tuple(round(0.1 * i, 10) for i in range(11))


class LMCDataConfig(StrictConfig):
    name: str = Field("digits", description=f"one of {', '.join(LMC_DATASETS)}")
    train_size: int | None = Field(None, description="class-balanced training subset (None: all)")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="for datasets with no split")
    batch_size: int = Field(64, ge=1, description="shuffled mini-batches, one order per network")

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in LMC_DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; lmc trains a small CNN on {', '.join(LMC_DATASETS)}"
            )
        return value


class LMCModelConfig(StrictConfig):
    channels: tuple[int, int] = Field((16, 32), description="conv channels of the two blocks")
    hidden: int = Field(64, ge=1, description="width of the features (the head's input)")
    batchnorm: bool = Field(
        True, description="BatchNorm after each conv (stats recomputed on paths)"
    )


class LMCOptimConfig(StrictConfig):
    lr: float = Field(0.05, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(5e-4, ge=0.0)


class LMCMonitorConfig(StrictConfig):
    log_every: int = Field(
        50, ge=1, description="each network's loss/accuracy every this many steps"
    )
    path_points: int = Field(
        5, ge=1, description="evenly spaced training steps at which both paths are measured"
    )
    mi_samples: int = Field(400, ge=2, description="samples per split for MIR/HDR (a fixed subset)")
    bn_batch: int = Field(256, ge=1, description="batch size of the BatchNorm recomputation pass")
    eval_batch: int = Field(1024, ge=1, description="rows per forward pass when evaluating")
    checkpoint_every: int = Field(500, ge=1)


class LMCConfig(ExperimentConfig):
    experiment: Literal["lmc"] = "lmc"
    steps: int = Field(1000, ge=1, description="training steps of every network")
    threads: int = Field(1, ge=1, description="torch threads (the networks are tiny)")
    shared_steps: int = Field(
        0, ge=0, description="steps A trains alone before B is spawned from it (Frankle's k)"
    )
    alphas: tuple[float, ...] = Field(
        DEFAULT_ALPHAS, description="interpolation grid in [0, 1], both endpoints included"
    )
    data: LMCDataConfig = LMCDataConfig()
    model: LMCModelConfig = LMCModelConfig()
    optim: LMCOptimConfig = LMCOptimConfig()
    monitor: LMCMonitorConfig = LMCMonitorConfig()

    @field_validator("alphas")
    @classmethod
    def _grid(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        return check_alphas(value)

    @model_validator(mode="after")
    def _spawn_before_the_end(self) -> LMCConfig:
        if self.shared_steps >= self.steps:
            raise ValueError(
                f"shared_steps ({self.shared_steps}) must be below steps ({self.steps}): B is "
                f"spawned from A after shared_steps and then trains on its own order"
            )
        return self
