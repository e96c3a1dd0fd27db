"""Grokking on modular addition (Power et al. 2022), watched through matrix information.

Default: a + b mod 97, 40 % of the 9,409 pairs for training, an MLP (two 64-d embeddings →
256 ReLU units → linear head), full-batch AdamW (lr 1e-3, weight decay 1.0, betas 0.9/0.98).
Train accuracy saturates within a few hundred steps; test accuracy follows thousands of steps
later. MIR, HDR and both matrix entropies of (penultimate features, head rows) are recorded on a
log-spaced schedule, per split, on fixed evaluation subsets, and (``monitor.richness``) the
dynamical richness D_LR of the same features with the logits as the learned functions.

``model.kind=transformer`` trains Nanda et al.'s (2023) one-layer transformer instead (d_model
128, 4 heads, d_mlp 512, no LayerNorm, their initialisation) and, for every key the overrides
leave unset, their task: a + b mod 113, 30 % of the pairs, 12,000 steps
(:data:`TRANSFORMER_DEFAULTS`); the measurement protocol is the MLP's. With 1 thread (seed 0)
it fits at step 140 and generalises at step 7,380, ~14 CPU-minutes for the 12,000 steps. The
summary reads MIR, HDR and D_LR at the phases of the run
(:mod:`infodyn.experiments.grokking_phases`).

``monitor.capture=live`` takes the training split's values from the training forward passes
themselves (the full-batch pass of each scheduled step, its first ``eval_samples`` rows)
instead of a separate evaluation pass; the test split is always measured by evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from infodyn.analysis import FIT_THRESHOLD, GENERALIZE_THRESHOLD, grokking_steps
from infodyn.config import StrictConfig
from infodyn.data.modular import ModularSplit, split_modular
from infodyn.experiments._training import fixed_subset, full_batch_step, loss_and_accuracy
from infodyn.experiments.base import (
    Experiment,
    ExperimentConfig,
    LoopSchedules,
    ProbePlan,
    Setup,
    StepResult,
    register,
)
from infodyn.experiments.grokking_phases import phase_headlines
from infodyn.metrics import MatrixInformation, Richness
from infodyn.models.mlp import ModularMLP
from infodyn.models.transformer import ModularTransformer
from infodyn.monitor import Probe, batches_of
from infodyn.schedules import AnyOf, at_steps, every, log_spaced
from infodyn.store import RunStore
from infodyn.summary import Headline, Marker, RunSummary, Span, StepMarkers


class ModularDataConfig(StrictConfig):
    modulus: int = Field(97, ge=2)
    operation: Literal["add", "sub", "mul"] = "add"
    train_fraction: float = Field(0.4, gt=0.0, lt=1.0)


class ModularModelConfig(StrictConfig):
    kind: Literal["mlp", "transformer"] = Field(
        "mlp", description="the MLP, or the decoder-only transformer of the grokking papers"
    )
    embed_dim: int = Field(64, ge=1, description="mlp: operand embedding width")
    hidden_dim: int = Field(256, ge=1, description="mlp: hidden layer width")
    d_model: int = Field(128, ge=1, description="transformer: residual stream width")
    heads: int = Field(4, ge=1, description="transformer: attention heads")
    d_mlp: int = Field(512, ge=1, description="transformer: MLP width")
    layers: int = Field(1, ge=1, description="transformer: blocks")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ModularModelConfig:
        if self.kind == "transformer" and self.d_model % self.heads:
            raise ValueError(
                f"model.d_model ({self.d_model}) must be divisible by model.heads ({self.heads})"
            )
        return self


class AdamWConfig(StrictConfig):
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(1.0, ge=0.0)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.98, ge=0.0, lt=1.0)


class GrokkingMonitorConfig(StrictConfig):
    points: int = Field(48, ge=2, description="log-spaced measurement points for MIR/HDR")
    eval_samples: int = Field(512, ge=2, description="fixed per-split subset for MIR/HDR")
    eval_batch: int = Field(512, ge=2, description="batch size of the MIR/HDR evaluation")
    mode: Literal["batch_mean", "pooled"] = "batch_mean"
    richness: bool = Field(True, description="also record D_LR and its curves (Nam et al.)")
    log_every: int = Field(10, ge=1, description="loss/accuracy every this many steps")
    checkpoint_every: int = Field(500, ge=1)
    capture: Literal["eval", "live"] = Field(
        "eval",
        description="train-split MIR/HDR/D_LR from a separate evaluation pass or live from the "
        "training passes",
    )


#: What ``model.kind=transformer`` changes besides the model, wherever the input leaves the
#: key unset: Nanda et al.'s (2023) task, a + b mod 113 with 30 % of the pairs for training,
#: and enough steps to see the run generalise and settle. The field defaults above are the
#: MLP's and stay as they are.
TRANSFORMER_DEFAULTS: Mapping[str, Any] = {
    "steps": 12_000,
    "data": {"modulus": 113, "train_fraction": 0.3},
}


def _with_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _with_defaults(merged[key], value)
        else:
            merged[key] = value
    return merged


class GrokkingConfig(ExperimentConfig):
    """The grokking run. With ``model.kind=transformer``, keys left unset take
    :data:`TRANSFORMER_DEFAULTS` before the field defaults (which are the MLP run's).

    Example:
        >>> GrokkingConfig().data.modulus, GrokkingConfig().steps
        (97, 7000)
        >>> t = GrokkingConfig.model_validate({"model": {"kind": "transformer"}})
        >>> t.data.modulus, t.data.train_fraction, t.steps
        (113, 0.3, 12000)
        >>> GrokkingConfig.model_validate(
        ...     {"model": {"kind": "transformer"}, "data": {"modulus": 97}}
        ... ).data.modulus
        97
    """

    experiment: Literal["grokking"] = "grokking"
    steps: int = Field(7000, ge=1)
    data: ModularDataConfig = ModularDataConfig()
    model: ModularModelConfig = ModularModelConfig()
    optim: AdamWConfig = AdamWConfig()
    monitor: GrokkingMonitorConfig = GrokkingMonitorConfig()

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_the_model_kind(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        model = data.get("model")
        kind = model.get("kind") if isinstance(model, Mapping) else getattr(model, "kind", None)
        return _with_defaults(TRANSFORMER_DEFAULTS, data) if kind == "transformer" else data


@dataclass
class GrokkingSetup(Setup):
    """Model, optimiser and the data split (on the run's device)."""

    data: ModularSplit | None = None

    @property
    def split(self) -> ModularSplit:
        assert self.data is not None  # always set by build
        return self.data


def modular_model(modulus: int, config: ModularModelConfig) -> nn.Module:
    """The network ``config.kind`` names, freshly initialised (the caller seeds torch)."""
    if config.kind == "transformer":
        return ModularTransformer(
            modulus, config.d_model, config.heads, config.d_mlp, config.layers
        )
    return ModularMLP(modulus, config.embed_dim, config.hidden_dim)


def build_grokking(
    config: GrokkingConfig, device: torch.device | str = "cpu"
) -> tuple[ModularSplit, nn.Module, torch.optim.AdamW]:
    """The seeded data split, freshly initialised model and optimizer of a grokking run.

    The caller seeds torch first (the run loop does, with ``config.seed``).
    """
    data = split_modular(
        config.data.modulus,
        config.data.train_fraction,
        seed=config.seed,
        operation=config.data.operation,
    )
    data = dataclasses.replace(
        data,
        x_train=data.x_train.to(device),
        y_train=data.y_train.to(device),
        x_test=data.x_test.to(device),
        y_test=data.y_test.to(device),
    )
    model = modular_model(config.data.modulus, config.model)
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        betas=(config.optim.beta1, config.optim.beta2),
    )
    return data, model, optimizer


def grokking_markers(store: RunStore) -> tuple[tuple[Headline, ...], StepMarkers]:
    """Fit and generalisation steps of a run as headlines and step-axis markers.

    Fitting is train accuracy reaching 0.99 and generalising test accuracy reaching 0.9
    (Power et al. 2022); the stretch between them is shaded.
    """
    g = grokking_steps(store)
    fit, gen, ratio = g.fit_step, g.generalize_step, g.delay_ratio
    headlines = (
        Headline("fit_step", f"train acc ≥ {FIT_THRESHOLD:g} at step", fit, "{:,.0f}"),
        Headline("generalize_step", f"test acc ≥ {GENERALIZE_THRESHOLD:g} at step", gen, "{:,.0f}"),
        Headline("delay_ratio", "delay ratio (generalise / fit step)", ratio, "{:.1f}×"),
    )
    lines = []
    if fit is not None:
        lines.append(Marker(fit, f"train acc ≥ {FIT_THRESHOLD:g} (step {fit:,})", "0.35", ":"))
    if gen is not None:
        lines.append(
            Marker(gen, f"test acc ≥ {GENERALIZE_THRESHOLD:g} (step {gen:,})", "tab:green", "-.")
        )
    spans: tuple[Span, ...] = ()
    if fit is not None and gen is not None and gen > fit:
        spans = (Span(fit, gen, "train fit, test not yet generalised"),)
    if fit is None and gen is None:
        caption = "no grokking transition recorded"
    else:
        caption = ", ".join(
            [
                f"train fit at step {fit:,}" if fit is not None else "train never fit",
                f"test generalised at step {gen:,}"
                if gen is not None
                else "test never generalised",
            ]
        )
        if ratio is not None:
            caption += f" ({ratio:.3g}× later)"
    return headlines, StepMarkers(tuple(lines), spans, caption)


class Grokking(Experiment[GrokkingConfig, GrokkingSetup]):
    """Modular arithmetic: memorise first, generalise much later; MIR/HDR and D_LR meanwhile."""

    name = "grokking"
    description = "modular addition: memorise first, generalise much later; MIR/HDR meanwhile"
    config_type = GrokkingConfig

    def build(self, config: GrokkingConfig, device: torch.device) -> GrokkingSetup:
        data, model, optimizer = build_grokking(config, device)
        return GrokkingSetup(model=model, optimizer=optimizer, data=data)

    def train_step(self, setup: GrokkingSetup, step: int) -> StepResult:
        data = setup.split
        full_batch_step(setup.model, setup.optimizer, data.x_train, data.y_train)
        return StepResult(inputs=data.x_train, labels=data.y_train)

    def schedules(self, config: GrokkingConfig) -> LoopSchedules:
        mon = config.monitor
        return LoopSchedules(
            log=AnyOf((every(mon.log_every), self._measure_schedule(config))),
            checkpoint=AnyOf((every(mon.checkpoint_every), at_steps(config.steps))),
        )

    @staticmethod
    def _measure_schedule(config: GrokkingConfig) -> AnyOf:
        return AnyOf((log_spaced(1, config.steps, config.monitor.points), at_steps(config.steps)))

    def probes(self, setup: GrokkingSetup, config: GrokkingConfig) -> ProbePlan:
        mon, data = config.monitor, setup.split
        schedule = self._measure_schedule(config)
        subsets = {
            "train": (data.x_train, data.y_train, config.seed + 1),
            "test": (data.x_test, data.y_test, config.seed + 2),
        }
        if mon.capture == "live":
            # The scheduled step's own full-batch pass, first eval_samples rows (pooled).
            del subsets["train"]
        evaluation = {
            split: batches_of(x[idx], y[idx], mon.eval_batch)
            for split, (x, y, seed) in subsets.items()
            for idx in [fixed_subset(len(y), mon.eval_samples, seed)]
        }
        probes = {
            "matrix_information": Probe(
                MatrixInformation(mode=mon.mode, max_samples=mon.eval_samples), schedule
            )
        }
        if mon.richness:
            probes["richness"] = Probe(Richness(max_samples=mon.eval_samples), schedule)
        if mon.capture == "live":
            probes["matrix_information_live"] = Probe(
                MatrixInformation(mode="pooled", max_samples=mon.eval_samples),
                schedule,
                mode="live",
                window=1,
            )
            if mon.richness:
                probes["richness_live"] = Probe(
                    Richness(max_samples=mon.eval_samples), schedule, mode="live", window=1
                )
        return ProbePlan(probes=probes, evaluation=evaluation, head="head")

    def log_values(self, setup: GrokkingSetup, step: int) -> dict[str, dict[str, float]]:
        data = setup.split
        return {
            "train": loss_and_accuracy(setup.model, data.x_train, data.y_train),
            "test": loss_and_accuracy(setup.model, data.x_test, data.y_test),
        }

    def summarize(self, store: RunStore, config: GrokkingConfig) -> RunSummary:
        headlines, markers = grokking_markers(store)
        g = grokking_steps(store)
        phases = phase_headlines(store, g.fit_step, g.generalize_step)
        return RunSummary(headlines=headlines + phases, markers=markers)


GROKKING = register(Grokking())
