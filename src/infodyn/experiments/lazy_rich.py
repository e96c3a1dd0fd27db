"""Rich ≠ better: D_LR on label-encoded data, all layers trained vs the last layer only.

Nam et al. (2024, arXiv 2410.04264, their Fig. 1) write the label into the first pixels of every
image — the *true* label in training, a *random* one at test — so that both the encoding and
the image are valid features for fitting the training set. A 4-layer MLP trained with every
layer (``train=full``) concentrates its features on the encoding: rich dynamics (their D_LR
0.0087) and test accuracy at chance (10.0 %). The same network with only its last layer
trained (``train=last_layer``) keeps its random features, which carry the image: lazy dynamics
(D_LR 0.63) and better test accuracy (74.4 %). D_LR separates the two without looking at
accuracy, and the richer model is the one that generalises worse.

This experiment is that setup on a shipped dataset: the first C = 10 input values of every
(flattened) sample are replaced by the one-hot label (``data.encode=false`` leaves the inputs
alone, a control). The model is the 4-layer MLP of :mod:`infodyn.models.cnn` (three ReLU
layers of ``model.width`` and a linear head); AdamW on the squared error to one-hot targets
(mean over batch and outputs; ``loss=cross_entropy`` is the alternative), shuffled mini-batches.
Both settings start from the same initialisation (the same seed builds the same network), so
one sweep runs the pair::

    infodyn sweep lazy-rich --grid train=full,last_layer --seeds 3

What is recorded (see :mod:`infodyn.experiments._richness`): D_LR and its three curves on a
fixed training subset and on a test subset, S_init and ‖θ‖², loss and accuracy on both sets.
Headlines: the final D_LR on both subsets, the final accuracies and baselines. One default run
takes ~11 s of run loop on one thread (``train=full``); seeds 0–2 give D_LR 0.0095 (full) vs
0.31 (last layer) at test accuracy 0.12 vs 0.41 (docs/dynamical-richness.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field, field_validator
from torch import Tensor
from torch.nn import functional as F

from infodyn.config import StrictConfig
from infodyn.data.datasets import Dataset, load_dataset
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
from infodyn.experiments._training import ShuffledBatches
from infodyn.experiments.base import (
    Experiment,
    ExperimentConfig,
    LoopSchedules,
    ProbePlan,
    StepResult,
    register,
)
from infodyn.models.cnn import build_classifier
from infodyn.schedules import AnyOf, at_steps, every
from infodyn.store import RunStore
from infodyn.summary import ComparisonSummary, RunSummary

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = ["LAZY_RICH", "LazyRich", "LazyRichConfig", "label_encoded"]

#: The datasets lazy-rich runs on (``mnist`` reads the IDX files in ``data.root``).
LAZY_RICH_DATASETS = ("digits", "mnist1d", "mnist")


class LazyRichDataConfig(StrictConfig):
    name: str = Field("digits", description=f"one of {', '.join(LAZY_RICH_DATASETS)}")
    encode: bool = Field(
        True, description="write the label into the first C inputs (true at train, random at test)"
    )
    train_size: int | None = Field(None, description="class-balanced training subset (None: all)")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0, description="for datasets with no split")
    root: str | None = Field(None, description="folder of the MNIST IDX files (mnist only)")

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in LAZY_RICH_DATASETS:
            raise ValueError(
                f"unknown dataset {value!r}; lazy-rich runs on images: "
                f"{', '.join(LAZY_RICH_DATASETS)} (mnist reads the IDX files in data.root)"
            )
        return value


class LazyRichModelConfig(StrictConfig):
    width: int = Field(256, ge=1, description="width p of each of the three hidden ReLU layers")


class LazyRichOptimConfig(StrictConfig):
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, description="AdamW's decoupled weight decay λ >= 0")
    batch_size: int = Field(64, ge=1)

    @field_validator("weight_decay")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        return check_weight_decay(value)


class LazyRichConfig(ExperimentConfig):
    experiment: Literal["lazy-rich"] = "lazy-rich"
    steps: int = Field(3000, ge=1)
    threads: int = Field(1, ge=1, description="torch threads (the model is small)")
    train: Literal["full", "last_layer"] = Field(
        "full", description="full: every layer (rich); last_layer: only the head (lazy)"
    )
    loss: Literal["mse", "cross_entropy"] = Field(
        "mse", description="mse: squared error to one-hot targets, mean over batch and outputs"
    )
    data: LazyRichDataConfig = LazyRichDataConfig()
    model: LazyRichModelConfig = LazyRichModelConfig()
    optim: LazyRichOptimConfig = LazyRichOptimConfig()
    monitor: RichnessMonitorConfig = RichnessMonitorConfig()


def label_encoded(data: Dataset, seed: int) -> Dataset:
    """The dataset with the first C values of every flattened input replaced by a one-hot label:
    the true label in training, a random one (seeded) at test (Nam et al., Fig. 1).

    Example:
        >>> data = Dataset("toy", torch.zeros(4, 1, 2, 3), torch.tensor([0, 1, 2, 0]),
        ...                torch.zeros(2, 1, 2, 3), torch.tensor([1, 1]), 3)
        >>> encoded = label_encoded(data, seed=0)
        >>> encoded.x_train.flatten(1)[:, :3].argmax(1).tolist()
        [0, 1, 2, 0]
        >>> encoded.x_train.shape, float(encoded.x_test.flatten(1)[:, 3:].abs().sum())
        (torch.Size([4, 1, 2, 3]), 0.0)
    """
    c = data.num_classes
    size = data.x_train[0].numel()
    if size < c:
        raise ValueError(
            f"{data.name}: inputs have {size} values, fewer than the {c} the label encoding "
            f"writes; use data.encode=false"
        )
    g = torch.Generator().manual_seed(seed + 4)
    random_labels = torch.randint(0, c, (data.y_test.numel(),), generator=g)

    def encode(x: Tensor, labels: Tensor) -> Tensor:
        flat = x.flatten(1).clone()
        flat[:, :c] = F.one_hot(labels.cpu(), c).to(flat)
        return flat.reshape(x.shape)

    return Dataset(
        data.name,
        encode(data.x_train, data.y_train),
        data.y_train,
        encode(data.x_test, random_labels),
        data.y_test,
        c,
    )


@dataclass
class LazyRichSetup(RichnessSetup):
    batches: ShuffledBatches | None = None
    loss: str = "mse"


class LazyRich(Experiment[LazyRichConfig, LazyRichSetup]):
    """Label-encoded data: full training is richer (lower D_LR) yet generalises worse."""

    name = "lazy-rich"
    description = (
        "label-encoded inputs, all layers (rich) vs last layer (lazy): D_LR, accuracy, the three "
        "curves (Nam et al., Fig. 1)"
    )
    config_type = LazyRichConfig

    def build(self, config: LazyRichConfig, device: torch.device) -> LazyRichSetup:
        d = config.data
        data = load_dataset(
            d.name, seed=config.seed, train_size=d.train_size, test_fraction=d.test_fraction,
            root=d.root,
        )  # fmt: skip
        if d.encode:
            data = label_encoded(data, config.seed)
        data = data.to(device)
        width = config.model.width
        model = build_classifier(
            "mlp", data.input_shape, data.num_classes, widths=(width, width, width)
        ).to(device)
        if config.train == "last_layer":
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith("head."))
        trained = [p for p in model.parameters() if p.requires_grad]
        o = config.optim
        optimizer = torch.optim.AdamW(trained, lr=o.lr, weight_decay=o.weight_decay)
        batches = ShuffledBatches(data.y_train.numel(), o.batch_size, config.seed + 1)
        setup = LazyRichSetup(
            model=model,
            optimizer=optimizer,
            stateful={"batches": batches},
            data=data,
            batches=batches,
            loss=config.loss,
        )
        finish_setup(setup, config.steps, config.monitor, config.seed, o.lr)
        return setup

    def train_step(self, setup: LazyRichSetup, step: int) -> StepResult:
        data = setup.dataset
        assert setup.batches is not None
        index = setup.batches.next().to(data.x_train.device)
        x, y = data.x_train[index], data.y_train[index]
        setup.model.train()
        logits = setup.model(x)
        if setup.loss == "mse":
            loss = F.mse_loss(logits, F.one_hot(y, data.num_classes).to(logits.dtype))
        else:
            loss = F.cross_entropy(logits, y)
        check_finite_loss(loss, step, setup.lr)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
        return StepResult(inputs=x, labels=y)

    def schedules(self, config: LazyRichConfig) -> LoopSchedules:
        mon = config.monitor
        return LoopSchedules(
            log=AnyOf((every(mon.log_every), measure_schedule(config.steps, mon))),
            checkpoint=AnyOf((every(mon.checkpoint_every), at_steps(config.steps))),
        )

    def probes(self, setup: LazyRichSetup, config: LazyRichConfig) -> ProbePlan:
        return richness_probe_plan(setup, config.monitor, config.seed)

    def log_values(self, setup: LazyRichSetup, step: int) -> dict[str, dict[str, float]]:
        return richness_log_values(setup, step, setup.loss)

    def summarize(self, store: RunStore, config: LazyRichConfig) -> RunSummary:
        return RunSummary(headlines=richness_headlines(store, config.monitor.span))

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        from infodyn.experiments.richness_report import summarize_richness

        return summarize_richness(comparison)


LAZY_RICH = register(LazyRich())
