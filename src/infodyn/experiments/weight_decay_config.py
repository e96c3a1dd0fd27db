"""The typed config of the weight-decay experiment (:mod:`infodyn.experiments.weight_decay`).

Every field can be set with ``--set key=value``; unknown keys and bad values are errors that
name the key, the value and what to use instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infodyn.config import StrictConfig
from infodyn.data.datasets import DATASETS
from infodyn.experiments.base import ExperimentConfig
from infodyn.functional.collapse_stats import RNC1Norm

__all__ = [
    "WeightDecayConfig",
    "WeightDecayDataConfig",
    "WeightDecayModelConfig",
    "WeightDecayMonitorConfig",
    "WeightDecayOptimConfig",
]


class WeightDecayDataConfig(StrictConfig):
    name: str = Field("digits", description=f"one of {', '.join(DATASETS)}")
    train_size: int = Field(500, ge=2, description="class-balanced training samples")
    batch_size: int = Field(100, ge=1, description="shuffled mini-batches, epoch after epoch")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="for datasets with no split")
    root: str | None = Field(None, description="folder of the MNIST IDX files (mnist only)")

    @field_validator("name")
    @classmethod
    def _shipped(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; the shipped ones are {', '.join(DATASETS)} "
                f"(mnist reads the IDX files in data.root)"
            )
        return value


class WeightDecayModelConfig(StrictConfig):
    hidden_dim: int = Field(200, ge=1)
    depth: int = Field(2, ge=1, description="hidden ReLU layers")
    init_scale: float = Field(8.0, description="every initial parameter is multiplied by it")

    @field_validator("init_scale")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(
                f"init_scale multiplies every initial parameter and must be > 0, got {value!r}; "
                f"use 8 (the paper) or 1 for PyTorch's default initialisation"
            )
        return value


class WeightDecayOptimConfig(StrictConfig):
    lr: float = Field(3e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW's decoupled weight decay λ")
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)


class WeightDecayMonitorConfig(StrictConfig):
    log_every: int = Field(50, ge=1, description="loss/accuracy every this many steps")
    points: int = Field(40, ge=2, description="log-spaced measurement steps")
    linear_points: int = Field(40, ge=0, description="evenly spaced measurement steps (0: none)")
    eval_samples: int = Field(1000, ge=2, description="held-out samples measured (a fixed subset)")
    eval_batch: int = Field(1000, ge=1)
    information_plane: bool = Field(True, description="record I(Z;X), I(Z;Y) and nHSIC")
    ib_samples: int = Field(500, ge=2, description="rows per split for MI and nHSIC")
    nhsic_batch: int = Field(100, ge=2, description="nHSIC batch size (the paper: 100)")
    mi_estimator: Literal["ksg", "kl"] = Field(
        "ksg", description="ksg: infodyn's KSG/Ross; kl: the authors' Kozachenko–Leonenko"
    )
    rnc1_norm: RNC1Norm = Field("mean", description="mean: the authors' code; max: the paper")
    class_pair: tuple[int, int] = Field((0, 1), description="classes a, b of the margins")
    checkpoint_every: int = Field(5000, ge=1)

    @field_validator("class_pair")
    @classmethod
    def _two_classes(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] == value[1] or min(value) < 0:
            raise ValueError(
                f"class_pair must be two different class indices >= 0, got {list(value)}; "
                f"e.g. [0,1]"
            )
        return value


class WeightDecayConfig(ExperimentConfig):
    experiment: Literal["weight-decay"] = "weight-decay"
    steps: int = Field(50_000, ge=1)
    loss: Literal["mse", "cross_entropy"] = Field(
        "mse", description="mse: squared error to one-hot targets, summed (the authors)"
    )
    data: WeightDecayDataConfig = WeightDecayDataConfig()
    model: WeightDecayModelConfig = WeightDecayModelConfig()
    optim: WeightDecayOptimConfig = WeightDecayOptimConfig()
    monitor: WeightDecayMonitorConfig = WeightDecayMonitorConfig()
