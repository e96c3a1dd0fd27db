"""What the dynamical-richness experiments share: the monitor config, the fixed measurement
sets, the D_LR probe, the baselines and the headlines (Nam et al. 2024, arXiv 2410.04264).

Both ``lazy-rich`` and ``richness-study`` measure, on the paper's convention, D_LR and its three
curves on a **fixed, seeded subset of the training set** (split ``train``) and, beside it, on a
fixed subset of the test set (split ``test``), in an evaluation pass (eval mode, so BatchNorm
uses its running statistics), at log-spaced steps plus evenly spaced ones and the last step. At
the same steps they record the paper's baselines on the training subset: S_init = linear CKA
between the features now and at initialisation (``s_init``) and the squared parameter norm
‖θ‖² (``param_norm``) and ‖θ‖²/‖θ_0‖² (``param_norm_ratio``). Loss and accuracy of the whole
training and test sets are logged every ``monitor.log_every`` steps.

A run past the model's stability limit fails with a clear error instead of recording
meaningless values: a non-finite training loss, or features Φ that are the same for every
sample (every ReLU of the last hidden layer off — the "dead" network a too-large learning rate
leaves), where D_LR and S_init are undefined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from infodyn.config import StrictConfig
from infodyn.data.datasets import Dataset
from infodyn.experiments._training import fixed_subset
from infodyn.experiments.base import ProbePlan, Setup
from infodyn.functional.baselines import linear_cka, parameter_norm
from infodyn.functional.richness import D_LR_METRIC, Span, _negligible
from infodyn.metrics import Richness
from infodyn.monitor import Probe, batches_of
from infodyn.schedules import AnyOf, Schedule, at_steps, every, log_spaced
from infodyn.store import RunStore
from infodyn.summary import Headline
from infodyn.tap import eval_mode

__all__ = [
    "RichnessMonitorConfig",
    "RichnessSetup",
    "check_finite_loss",
    "check_weight_decay",
    "finish_setup",
    "measure_schedule",
    "richness_headlines",
    "richness_log_values",
    "richness_probe_plan",
]


class RichnessMonitorConfig(StrictConfig):
    points: int = Field(24, ge=2, description="log-spaced measurement steps (and step 0)")
    linear_points: int = Field(10, ge=0, description="evenly spaced measurement steps (0: none)")
    eval_samples: int = Field(
        1000, ge=3, description="fixed seeded subset per split for D_LR, its curves and S_init"
    )
    eval_batch: int = Field(1000, ge=1)
    log_every: int = Field(50, ge=1, description="loss/accuracy of both sets every this many steps")
    checkpoint_every: int = Field(2000, ge=1)
    span: Span = Field(
        "outputs",
        description="D_LR's reading: outputs (the paper's, stored as d_lr) or "
        "outputs_and_constant (stored as d_lr_with_constant)",
    )


def check_weight_decay(value: float) -> float:
    """A weight decay λ ≥ 0, or a clear error (pydantic field validators call this)."""
    if not value >= 0:  # also rejects NaN
        raise ValueError(
            f"weight_decay λ must be >= 0 (0 switches it off), got {value!r}; a negative λ "
            f"would push the weights away from 0"
        )
    return value


@dataclass
class RichnessSetup(Setup):
    """Model, optimiser, data and what the richness measurements hold fixed over the run.

    Attributes:
        data: The dataset (on the run's device).
        probe_x, probe_y: The fixed training subset D_LR, its curves and S_init are measured on.
        initial_features: Φ_0 on ``probe_x`` at initialisation (eval mode), for S_init.
        initial_norm: ‖θ_0‖².
        measure: The measurement schedule (S_init and the norms are logged when it fires).
        lr: The learning rate, for the instability messages.
    """

    data: Dataset | None = None
    probe_x: Tensor | None = None
    probe_y: Tensor | None = None
    initial_features: Tensor | None = None
    initial_norm: float = 1.0
    measure: Schedule | None = None
    lr: float = 0.0

    @property
    def dataset(self) -> Dataset:
        assert self.data is not None  # always set by build
        return self.data


def measure_schedule(steps: int, monitor: RichnessMonitorConfig) -> AnyOf:
    """Log-spaced steps (and step 0), evenly spaced ones, and the last step."""
    parts: list[Schedule] = [log_spaced(1, steps, monitor.points), at_steps(steps)]
    if monitor.linear_points:
        parts.append(every(max(1, steps // monitor.linear_points)))
    return AnyOf(tuple(parts))


@torch.no_grad()
def _features(model: nn.Module, x: Tensor) -> Tensor:
    """The head's input Φ in eval mode (the models here have ``features(x)``)."""
    with eval_mode(model):
        return model.features(x)  # type: ignore[operator]


SetupT = TypeVar("SetupT", bound=RichnessSetup)


def finish_setup(
    setup: SetupT, steps: int, monitor: RichnessMonitorConfig, seed: int, lr: float
) -> SetupT:
    """Fix the measurement subset and record Φ_0 and ‖θ_0‖² of the fresh model.

    Raises:
        ValueError: The training subset is smaller than twice the feature width p (the curves
            need n ≥ 2p, the paper's advice).
    """
    data = setup.dataset
    idx = fixed_subset(data.y_train.numel(), monitor.eval_samples, seed + 2).to(data.x_train.device)
    setup.probe_x, setup.probe_y = data.x_train[idx], data.y_train[idx]
    setup.initial_features = _features(setup.model, setup.probe_x)
    width = setup.initial_features.shape[1]
    if idx.numel() < 2 * width:
        raise ValueError(
            f"D_LR's curves need at least 2p samples for p = {width} features, but the "
            f"training subset has {idx.numel()} (monitor.eval_samples={monitor.eval_samples}, "
            f"{data.y_train.numel()} training samples); raise monitor.eval_samples or make the "
            f"last hidden layer narrower"
        )
    setup.initial_norm = float(parameter_norm(setup.model.parameters()))
    setup.measure = measure_schedule(steps, monitor)
    setup.lr = lr
    return setup


def richness_probe_plan(
    setup: RichnessSetup, monitor: RichnessMonitorConfig, seed: int
) -> ProbePlan:
    """D_LR and its curves (one Richness probe) on the fixed train subset and a test subset."""
    data = setup.dataset
    assert setup.probe_x is not None and setup.probe_y is not None and setup.measure is not None
    test = fixed_subset(data.y_test.numel(), monitor.eval_samples, seed + 3).to(data.x_test.device)
    evaluation = {
        "train": batches_of(setup.probe_x, setup.probe_y, monitor.eval_batch),
        "test": batches_of(data.x_test[test], data.y_test[test], monitor.eval_batch),
    }
    probe = Probe(Richness(max_samples=monitor.eval_samples, span=monitor.span), setup.measure)
    return ProbePlan(probes={"richness": probe}, evaluation=evaluation, head="head")


def check_finite_loss(loss: Tensor, step: int, lr: float) -> None:
    """Fail clearly when training diverged (a NaN or infinite loss)."""
    if not bool(torch.isfinite(loss)):
        raise RuntimeError(
            f"training diverged at step {step}: the training loss is {float(loss)}; "
            f"optim.lr={lr:g} is past this model's stability limit — use a smaller optim.lr"
        )


def _is_constant(phi: Tensor) -> bool:
    """Whether Φ is the same for every sample up to round-off — the test D_LR and S_init apply
    before they refuse (the centred Gram's norm negligible against the uncentred one)."""
    phi = phi.to(torch.float64)
    centred = phi - phi.mean(dim=0)
    gram = torch.linalg.matrix_norm(centred.mT @ centred)
    return _negligible(gram, torch.linalg.matrix_norm(phi) ** 2, max(phi.shape))


@torch.no_grad()
def _loss_and_accuracy(
    model: nn.Module, x: Tensor, y: Tensor, loss: str, num_classes: int
) -> dict[str, float]:
    with eval_mode(model):
        logits = model(x)
    if loss == "mse":
        value = F.mse_loss(logits, F.one_hot(y, num_classes).to(logits.dtype))
    else:
        value = F.cross_entropy(logits, y)
    return {"loss": float(value), "accuracy": float((logits.argmax(dim=1) == y).double().mean())}


def richness_log_values(
    setup: RichnessSetup, step: int, loss: str = "cross_entropy"
) -> dict[str, dict[str, float]]:
    """Loss and accuracy of both sets; at measurement steps S_init and the parameter norms.

    Raises:
        RuntimeError: The features are the same for every training sample (a dead network).
    """
    data = setup.dataset
    c = data.num_classes
    values = {
        "train": _loss_and_accuracy(setup.model, data.x_train, data.y_train, loss, c),
        "test": _loss_and_accuracy(setup.model, data.x_test, data.y_test, loss, c),
    }
    assert setup.measure is not None and setup.probe_x is not None
    if setup.measure(step):
        phi = _features(setup.model, setup.probe_x)
        if _is_constant(phi):
            raise RuntimeError(
                f"the network died at step {step}: its features Φ (the head's input) are the "
                f"same for every training sample (every ReLU of the last hidden layer is off), "
                f"so D_LR and S_init are undefined; optim.lr={setup.lr:g} is past this model's "
                f"stability limit — use a smaller optim.lr"
            )
        assert setup.initial_features is not None
        norm = float(parameter_norm(setup.model.parameters()))
        values["train"].update(
            s_init=float(linear_cka(phi, setup.initial_features)),
            param_norm=norm,
            param_norm_ratio=norm / setup.initial_norm,
        )
    return values


def _final(store: RunStore, metric: str, split: str) -> float | None:
    stored = {(m, s) for m, s, _ in store.keys()}
    if (metric, split) not in stored:
        return None
    return float(store.series(metric, split)[1][-1])


def richness_headlines(store: RunStore, span: Span) -> tuple[Headline, ...]:
    """The run's last recorded D_LR (train subset and test), accuracies and baselines."""
    name = D_LR_METRIC[span]
    reading = "D_LR" if span == "outputs" else "D_LR with constant"
    rows = (
        (f"final_{name}", f"{reading} at the end (train subset)", name, "train", "{:.4f}"),
        (f"final_{name}_test", f"{reading} at the end (test subset)", name, "test", "{:.4f}"),
        ("final_train_accuracy", "train accuracy at the end", "accuracy", "train", "{:.3f}"),
        ("final_test_accuracy", "test accuracy at the end", "accuracy", "test", "{:.3f}"),
        (
            "final_s_init",
            "S_init (CKA to initial features) at the end",
            "s_init",
            "train",
            "{:.3f}",
        ),
        ("final_param_norm_ratio", "‖θ‖²/‖θ_0‖² at the end", "param_norm_ratio", "train", "{:.3g}"),
    )
    return tuple(
        Headline(key, label, _final(store, metric, split), fmt)
        for key, label, metric, split, fmt in rows
    )
