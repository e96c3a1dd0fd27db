"""The TE information plane over training (Moldovan, Caţaron & Andonie 2024, arXiv 2404.01364).

Transfer entropy between every adjacent pair of layers — the three hidden layers' post-
activation outputs and the softmax output — accumulated over each epoch's *training* forward
passes, in the order training processed the samples (a fresh seeded shuffle per epoch, as
``DataLoader(shuffle=True)``), binarised at the 95th percentile of each layer in each batch.
Delay 1 is the authors' setting (their code, github.com/avmoldovan/CNN-TE, ``TEWindow`` with
k = l = u = 1); delay 0, the same-sample variant I(Y_t; X_t | Y_{t−1}), is infodyn's extension.
Each record's name says its delay: ``te_mean_lag1``, ``te_mean_lag0``.

Per epoch, per layer pair and delay: the mean TE over neuron pairs (the TE plane of a hidden
layer is the pair means into and out of it) and its significance against source-shuffle
surrogates of the epoch's own binarised series (``transfer_entropy_null``): the null
distribution of the pair mean (``te_null``), TE minus each pair's null mean (``te_excess``)
and the fraction of neuron pairs with p < 0.05 (``te_sig_fraction``); within the epoch, TE
over growing prefixes (what the authors' code estimates after every batch) and over equal
consecutive parts, each against its own null. Training loss and accuracy are the means over
the epoch's training batches (live); test loss and accuracy come from an evaluation pass at
each epoch's end.

Datasets (the shipped stand-ins for the paper's UCI and image sets): ``iris``, ``wine``,
``breast_cancer`` with a three-layer MLP, ``digits`` with a 2-D CNN, ``mnist1d`` with a 1-D CNN
(``model.kind=auto``; see :mod:`infodyn.models.cnn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field, field_validator, model_validator
from torch.nn import functional as F

from infodyn.config import StrictConfig
from infodyn.data.datasets import Dataset, load_dataset
from infodyn.experiments._epochs import EpochMeter, EpochOrder, derived_steps, train_count
from infodyn.experiments._training import loss_and_accuracy
from infodyn.experiments.base import (
    Experiment,
    ExperimentConfig,
    LoopSchedules,
    ProbePlan,
    Setup,
    StepResult,
    register,
)
from infodyn.experiments.te_plane_summary import summarize_te_plane
from infodyn.metrics import LayerTransferEntropy, SurrogateTest
from infodyn.models.cnn import HIDDEN_LAYERS, ModelKind, build_classifier
from infodyn.monitor import Probe
from infodyn.schedules import AnyOf, at_steps, every
from infodyn.store import RunStore
from infodyn.summary import RunSummary

__all__ = ["TE_DATASETS", "TEPlane", "TEPlaneConfig", "TEPlaneSetup", "te_probe_outputs"]

#: The shipped datasets te-plane runs on, and the model each gets with ``model.kind=auto``.
TE_DATASETS: dict[str, ModelKind] = {
    "iris": "mlp",
    "wine": "mlp",
    "breast_cancer": "mlp",
    "digits": "cnn2d",
    "mnist1d": "cnn1d",
}


class TEDataConfig(StrictConfig):
    name: str = Field("iris", description=f"one of {', '.join(TE_DATASETS)}")
    train_size: int | None = Field(None, description="class-balanced training subset (None: all)")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0)

    @field_validator("name")
    @classmethod
    def _shipped(cls, value: str) -> str:
        if value not in TE_DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; te-plane runs on the shipped ones: "
                f"{', '.join(TE_DATASETS)}"
            )
        return value


class TEModelConfig(StrictConfig):
    kind: Literal["auto", "mlp", "cnn1d", "cnn2d"] = Field(
        "auto", description="auto: mlp for tabular sets, cnn2d for digits, cnn1d for mnist1d"
    )
    widths: tuple[int, int, int] = Field((32, 16, 16), description="MLP hidden widths h1-h3")
    channels: tuple[int, int] = Field((16, 32), description="CNN channels of h1, h2")
    hidden: int = Field(64, ge=1, description="CNN width of the fully connected h3")


class TEOptimConfig(StrictConfig):
    lr: float = Field(0.02, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    batch_size: int = Field(32, ge=1)


class TEMonitorConfig(StrictConfig):
    q: float = Field(0.95, gt=0.0, lt=1.0, description="binarisation percentile")
    scope: Literal["layer", "neuron"] = "layer"
    delays: tuple[int, ...] = Field(
        (1, 0), description="TE delays; 1 is the authors', 0 the same-sample extension"
    )
    null_surrogates: int = Field(
        99, ge=0, description="source-shuffle surrogates per test (0: no significance)"
    )
    null_max_samples: int = Field(
        16_384, ge=2, description="memory bound: samples of binarised bits kept per epoch"
    )
    segments: int = Field(
        4, ge=0, description="within-epoch windows (growing and consecutive); 0: none"
    )
    checkpoint_every: int | None = Field(
        None, ge=1, description="checkpoint every this many steps (None: every 10 epochs)"
    )

    @field_validator("delays")
    @classmethod
    def _delays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or len(set(value)) != len(value) or min(value) < 0:
            raise ValueError(f"delays must be distinct integers >= 0, at least one; got {value}")
        return value

    @model_validator(mode="after")
    def _p_values_can_reach_alpha(self) -> TEMonitorConfig:
        if 0 < self.null_surrogates < 20:
            raise ValueError(
                f"null_surrogates={self.null_surrogates} cannot give p < 0.05 (the smallest "
                f"p-value is 1/(K+1)); use at least 20, or 0 for no significance test"
            )
        if self.segments and not self.null_surrogates:
            raise ValueError("segments need the surrogate test: set null_surrogates >= 20")
        return self


class TEPlaneConfig(ExperimentConfig):
    experiment: Literal["te-plane"] = "te-plane"
    steps: int = Field(0, ge=0, description="derived: epochs × steps per epoch (leave unset)")
    threads: int = Field(1, ge=1, description="torch threads (the models are tiny)")
    epochs: int = Field(30, ge=1)
    data: TEDataConfig = TEDataConfig()
    model: TEModelConfig = TEModelConfig()
    optim: TEOptimConfig = TEOptimConfig()
    monitor: TEMonitorConfig = TEMonitorConfig()

    @property
    def model_kind(self) -> ModelKind:
        """The model of this run: ``model.kind``, or the dataset's own for ``auto``."""
        return TE_DATASETS[self.data.name] if self.model.kind == "auto" else self.model.kind

    @property
    def steps_per_epoch(self) -> int:
        """⌈training samples / batch size⌉."""
        d = self.data
        n = train_count(d.name, self.seed, d.train_size, d.test_fraction)
        return -(-n // self.optim.batch_size)

    @model_validator(mode="after")
    def _derive_steps(self) -> TEPlaneConfig:
        kind, name = self.model_kind, self.data.name
        if (kind == "cnn2d" and name != "digits") or (kind == "cnn1d" and name != "mnist1d"):
            raise ValueError(
                f"model.kind={kind} does not fit dataset {name!r} (cnn2d: digits, cnn1d: "
                f"mnist1d, mlp: any); use model.kind=auto"
            )
        steps = derived_steps(self.epochs, self.steps_per_epoch, self.steps)
        # A frozen model: set the derived field once, during validation.
        object.__setattr__(self, "steps", steps)
        return self


@dataclass
class TEPlaneSetup(Setup):
    """Model, optimiser, the dataset, the per-epoch order and the epoch's running meter."""

    data: Dataset | None = None
    order: EpochOrder | None = None
    meter: EpochMeter | None = None


def te_probe_outputs(config: TEPlaneConfig) -> tuple[str, ...]:
    """What each TE probe records: the pair means and matrices, and with the surrogate test
    the null, excess and significant fraction (and the window arrays).

    The TE plane's coordinates are not recorded again as ``te_in``/``te_out``: the plane of
    hidden layer h is (``te_mean`` of (h−1 → h), ``te_mean`` of (h → h+1)) by definition, and
    duplicates would double the curves ``infodyn compare`` draws.
    """
    outputs = ["te", "te_mean"]
    if config.monitor.null_surrogates:
        outputs += ["te_null", "te_excess", "te_sig_fraction"]
    if config.monitor.segments:
        outputs += [
            f"te_{kind}_{stat}"
            for kind in ("segment", "prefix")
            for stat in ("mean", "null_mean", "null_std")
        ]
    return tuple(outputs)


class TEPlane(Experiment[TEPlaneConfig, TEPlaneSetup]):
    """TE between adjacent layers per epoch, against its surrogate null, and the TE plane."""

    name = "te-plane"
    description = "transfer entropy between layers per training epoch, vs its null (TE plane)"
    config_type = TEPlaneConfig

    def build(self, config: TEPlaneConfig, device: torch.device) -> TEPlaneSetup:
        d = config.data
        data = load_dataset(
            d.name, seed=config.seed, train_size=d.train_size, test_fraction=d.test_fraction
        ).to(device)
        m = config.model
        model = build_classifier(
            config.model_kind,
            data.input_shape,
            data.num_classes,
            widths=m.widths,
            channels=m.channels,
            hidden=m.hidden,
        ).to(device)
        o = config.optim
        optimizer = torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
        order = EpochOrder(data.y_train.shape[0], o.batch_size, seed=config.seed + 1)
        meter = EpochMeter()
        return TEPlaneSetup(
            model=model,
            optimizer=optimizer,
            stateful={"order": order, "meter": meter},
            data=data,
            order=order,
            meter=meter,
        )

    def train_step(self, setup: TEPlaneSetup, step: int) -> StepResult:
        assert setup.data is not None and setup.order is not None and setup.meter is not None
        idx = setup.order.batch(step).to(setup.data.x_train.device)
        x, y = setup.data.x_train[idx], setup.data.y_train[idx]
        logits = setup.model(x)
        loss = F.cross_entropy(logits, y)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
        setup.meter.add(loss, logits, y)
        # The epoch's mean training loss and accuracy, recorded live at its last step.
        values = setup.meter.pop() if setup.order.is_epoch_end(step) else {}
        return StepResult(values=values, inputs=x, labels=y)

    def schedules(self, config: TEPlaneConfig) -> LoopSchedules:
        spe = config.steps_per_epoch
        every_ckpt = config.monitor.checkpoint_every or 10 * spe
        return LoopSchedules(
            log=every(spe), checkpoint=AnyOf((every(every_ckpt), at_steps(config.steps)))
        )

    def probes(self, setup: TEPlaneSetup, config: TEPlaneConfig) -> ProbePlan:
        mon = config.monitor
        outputs = te_probe_outputs(config)
        probes = {}
        for delay in mon.delays:
            null = None
            if mon.null_surrogates:
                null = SurrogateTest(
                    n_surrogates=mon.null_surrogates,
                    seed=config.seed,
                    max_samples=mon.null_max_samples,
                    segments=mon.segments,
                )
            metric = LayerTransferEntropy(
                HIDDEN_LAYERS,
                q=mon.q,
                scope=mon.scope,
                delay=delay,
                null=null,
                outputs=outputs,
                suffix=f"_lag{delay}",
            )
            # window=None: every training step since the previous record, i.e. the epoch.
            probes[f"te_lag{delay}"] = Probe(metric, every(config.steps_per_epoch), mode="live")
        return ProbePlan(probes=probes, head="head")

    def log_values(self, setup: TEPlaneSetup, step: int) -> dict[str, dict[str, float]]:
        assert setup.data is not None
        return {"test": loss_and_accuracy(setup.model, setup.data.x_test, setup.data.y_test)}

    def summarize(self, store: RunStore, config: TEPlaneConfig) -> RunSummary:
        return summarize_te_plane(store, config.steps_per_epoch, config.monitor.delays)


TE_PLANE = register(TEPlane())
