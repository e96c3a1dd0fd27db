"""The typed config of the info-loss experiment (:mod:`infodyn.experiments.info_loss`).

Every field can be set with ``--set key=value``; unknown keys and bad values are errors that
name the key, the value and what to use instead. The label budget is checked against the
dataset when the config is built, so a sweep refuses it before any run starts.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infodyn.config import StrictConfig
from infodyn.data.augment import AugmentPolicy
from infodyn.experiments.base import ExperimentConfig
from infodyn.experiments.info_loss_data import class_counts

__all__ = ["INFO_DATASETS", "InfoLossConfig"]

#: Datasets the small CNN takes: 8×8 digit images and length-40 signals.
INFO_DATASETS = ("digits", "mnist1d")


class InfoDataConfig(StrictConfig):
    name: str = Field("digits", description=f"one of {', '.join(INFO_DATASETS)}")
    labels_per_class: int = Field(4, ge=1, description="label budget: labeled samples per class")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="for datasets with no split")

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in INFO_DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; info-loss trains a small CNN on "
                f"{', '.join(INFO_DATASETS)}"
            )
        return value


class InfoModelConfig(StrictConfig):
    channels: tuple[int, int] = Field((16, 32), description="conv channels of the two blocks")
    hidden: int = Field(64, ge=1, description="width of the features (the head's input)")
    batchnorm: bool = Field(False, description="BatchNorm after each conv")


class InfoOptimConfig(StrictConfig):
    lr: float = Field(0.03, gt=0.0, description="SGD with Nesterov momentum (FixMatch's)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(5e-4, ge=0.0)
    labeled_batch: int = Field(32, ge=2, description="labeled samples per step")
    cosine: bool = Field(True, description="FixMatch's decay lr·cos(7πk/16K)")


class FixMatchConfig(StrictConfig):
    threshold: float = Field(0.95, gt=0.0, le=1.0, description="confidence τ of a pseudo-label")
    unlabeled_weight: float = Field(1.0, ge=0.0, description="λ_u of the consistency loss")
    unlabeled_ratio: int = Field(7, ge=1, description="μ: unlabeled batch = μ × labeled batch")


class AugmentConfig(StrictConfig):
    weak_shift: int = Field(1, ge=0, description="weak view: translation by up to this")
    strong_shift: int = Field(2, ge=0, description="strong view: translation by up to this")
    noise_std: float = Field(0.1, ge=0.0, description="strong view: Gaussian noise std")
    contrast: float = Field(0.3, ge=0.0, lt=1.0, description="strong view: gain in 1 ± contrast")
    cutout: int = Field(3, ge=0, description="strong view: Cutout window side (0: none)")

    def policy(self) -> AugmentPolicy:
        """The views these settings describe."""
        return AugmentPolicy(**self.model_dump())


class InfoTermConfig(StrictConfig):
    lambda_mir: float = Field(0.0, description="weight of −MIR (0: off)")
    lambda_hdr: float = Field(0.0, description="weight of +HDR (0: off)")

    @field_validator("lambda_mir", "lambda_hdr")
    @classmethod
    def _magnitude(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"must be a finite number >= 0, got {value!r}; the sign is built in (MIR is "
                f"rewarded, HDR penalised) and 0 turns the term off"
            )
        return value

    @property
    def on(self) -> bool:
        """Whether either term is on."""
        return self.lambda_mir > 0 or self.lambda_hdr > 0


class InfoMonitorConfig(StrictConfig):
    eval_every: int = Field(50, ge=1, description="accuracy, MIR/HDR every this many steps")
    mi_samples: int = Field(400, ge=2, description="held-out samples for MIR/HDR (fixed subset)")
    checkpoint_every: int = Field(1000, ge=1)


class InfoLossConfig(ExperimentConfig):
    experiment: Literal["info-loss"] = "info-loss"
    steps: int = Field(2000, ge=1)
    threads: int = Field(1, ge=1, description="torch threads (the network is tiny)")
    method: Literal["supervised", "fixmatch"] = Field(
        "fixmatch", description="supervised: the labeled samples only; fixmatch: + unlabeled"
    )
    data: InfoDataConfig = InfoDataConfig()
    model: InfoModelConfig = InfoModelConfig()
    optim: InfoOptimConfig = InfoOptimConfig()
    fixmatch: FixMatchConfig = FixMatchConfig()
    augment: AugmentConfig = AugmentConfig()
    info: InfoTermConfig = InfoTermConfig()
    monitor: InfoMonitorConfig = InfoMonitorConfig()

    @model_validator(mode="after")
    def _budget_fits(self) -> InfoLossConfig:
        d = self.data
        counts = class_counts(d.name, self.seed, d.test_fraction)
        smallest = min(counts)
        if d.labels_per_class > smallest:
            raise ValueError(
                f"data.labels_per_class={d.labels_per_class} is larger than a class: class "
                f"{counts.index(smallest)} of {d.name}'s training split has {smallest} samples; "
                f"use at most {smallest}"
            )
        if self.method == "fixmatch" and d.labels_per_class * len(counts) >= sum(counts):
            raise ValueError(
                f"data.labels_per_class={d.labels_per_class} labels every training sample of "
                f"{d.name}, leaving no unlabeled pool for fixmatch; use fewer labels"
            )
        return self
