"""Weight decay sets when a large-initialised MLP groks (Sakamoto & Sato, Figs. 2–4).

Sakamoto & Sato ("Explaining Grokking and Information Bottleneck through Neural Collapse
Emergence") train Flatten → 200 → ReLU → 200 → ReLU → C with every initial parameter × 8,
AdamW and a squared error against one-hot targets summed over batch and outputs, on 1,000
MNIST images: the network memorises the training set first and generalises much later, the
later the smaller the weight decay λ (their Fig. 3; the delay scales like 1/(lr·λ)). The
within-class variance of the features — RNC1, measured on the training set and, as the
population variance of their Definition 3.1, on held-out data — falls as test accuracy
rises, and the redundant information I(Z;X) − I(Z;Y) falls with it (Fig. 4); the margins of
held-out samples move away from the decision boundary (Fig. 2).

This experiment is that setup on a dataset shipped with infodyn. Recorded on the training set
and on held-out data: loss and accuracy (``monitor.log_every``); on the measurement schedule
(``monitor.points`` log-spaced steps plus ``monitor.linear_points`` evenly spaced ones) RNC1,
NC1, NC1_trace, NC2 (equinorm, equiangularity, ETF error, cond), NC3 and CDNV, the margins of
every sample of the classes ``monitor.class_pair`` as arrays (``margins_a``, ``margins_b``),
and I(Z;X), I(Z;Y), their difference and the same by nHSIC. Metric names say which reading
produced them: ``rnc1`` (mean-norm scale, the authors' code) or ``rnc1_max``
(``monitor.rnc1_norm=max``, the paper's B_g); ``mi_zx`` … (KSG/Ross, infodyn's default) or
``mi_zx_kl`` … (``monitor.mi_estimator=kl``, the authors' Kozachenko–Leonenko estimator).

**Defaults, and why.** MNIST cannot be downloaded here (``data.name=mnist`` with
``data.root`` reads the IDX files of users who have them). Of the shipped datasets,
scikit-learn's 8×8 ``digits`` groks within the budget — memorises first, generalises later,
later for smaller λ — (one run ≤ ~1.5 min on one thread of a 2-core machine, the λ study
≤ 30 min on both): with 500 class-balanced
training samples, batch 100, lr 3e-3 and λ = 0.01, train accuracy reaches 0.99 after
~2,300 steps while test accuracy is ~0.3, and test accuracy climbs to ~0.97 by ~25,000 steps.
``mnist1d`` memorises more cleanly (test accuracy at chance when train accuracy reaches 0.99,
~3,500 steps at lr 3e-3, λ = 0.01) but generalises too slowly: test accuracy 0.47 and still
rising after 30,000 steps. lr 3e-3 rather than the paper's 1e-3 because the delay depends on
lr·λ: the larger step reaches the same picture in a third of the steps (memorisation also
comes ~1.5× sooner). 50,000 steps, so that RNC1 has fallen by the end at λ = 0.01.

**The λ study** (:data:`LAMBDA_GRID`, 4 values over a decade × 5 seeds, ~15 min with
``--workers 2 --threads 1``): ``infodyn sweep weight-decay --grid
optim.weight_decay=0.01,0.02,0.05,0.1 --seeds 5``, then ``infodyn compare``; below 0.01 the
delay outgrows 50,000 steps, above 0.1 generalisation is limited by the memorisation time.
Each default run takes ~90 s on one thread (measured while another job shared the machine).

Headlines (:meth:`WeightDecay.summarize`): the step at which train accuracy reaches 0.99
(memorisation), ``t_generalize`` — the step at which test accuracy has made 90 % of its gain
from step 0 to the end —, ``t_rnc1_half`` — the first step after its peak at which held-out
RNC1 is below half that peak —, the same for held-out NC1_trace = V_W/V_B, the steps at which
the two redundant-information curves (held-out) have fallen half-way from their peak to their
final value, and the final test accuracy. The λ study's numbers and a verdict on each of
the paper's claims are :mod:`infodyn.experiments.weight_decay_study`, its tables and figures
:mod:`infodyn.experiments.weight_decay_report`; the config is
:mod:`infodyn.experiments.weight_decay_config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from infodyn.analysis import FIT_THRESHOLD, drop_step, first_step_reaching, gain_step
from infodyn.data.datasets import Dataset, load_dataset
from infodyn.experiments._training import ShuffledBatches
from infodyn.experiments.base import (
    Experiment,
    LoopSchedules,
    ProbePlan,
    Setup,
    StepResult,
    register,
)
from infodyn.experiments.weight_decay_config import WeightDecayConfig
from infodyn.functional.collapse import MEASURES
from infodyn.metrics import ClassPairMargins, InformationPlane, NeuralCollapse
from infodyn.metrics.collapse import rnc1_key
from infodyn.metrics.information_plane import information_plane_keys
from infodyn.models.mlp import ReLUMLP, scale_parameters
from infodyn.monitor import Probe, batches_of
from infodyn.schedules import AnyOf, Schedule, at_steps, every, log_spaced
from infodyn.store import RunStore
from infodyn.summary import (
    ComparisonSummary,
    FigureSpec,
    Headline,
    Marker,
    RunSummary,
    Span,
    StepMarkers,
)
from infodyn.tap import eval_mode

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = [
    "GENERALIZE_FRACTION",
    "LAMBDA_GRID",
    "WeightDecay",
    "WeightDecayConfig",
    "weight_decay_headlines",
]

#: Share of its final gain test accuracy must make for ``t_generalize``.
GENERALIZE_FRACTION = 0.9
#: The λ study's grid of ``optim.weight_decay`` values (README, docs/neural-collapse.md).
LAMBDA_GRID = (0.01, 0.02, 0.05, 0.1)


@dataclass
class WeightDecaySetup(Setup):
    """Model, optimiser, the dataset (on the run's device) and the batch order."""

    data: Dataset | None = None
    batches: ShuffledBatches | None = None
    loss: str = "mse"

    @property
    def dataset(self) -> Dataset:
        assert self.data is not None  # always set by build
        return self.data


def _objective(logits: Tensor, labels: Tensor, loss: str) -> Tensor:
    """The training loss: squared error to one-hot targets summed over batch and outputs
    (the authors' code), or mean cross-entropy."""
    if loss == "mse":
        targets = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return F.mse_loss(logits, targets, reduction="sum")
    return F.cross_entropy(logits, labels)


@torch.no_grad()
def _loss_and_accuracy(model: nn.Module, x: Tensor, y: Tensor, loss: str) -> dict[str, float]:
    """Per-sample loss (MSE: summed over outputs, as the authors log it) and accuracy."""
    with eval_mode(model):
        logits = model(x)
    total = _objective(logits, y, loss)
    per_sample = total / y.numel() if loss == "mse" else total
    return {
        "loss": float(per_sample),
        "accuracy": float((logits.argmax(dim=1) == y).double().mean()),
    }


def _check_class_pair(config: WeightDecayConfig, data: Dataset) -> None:
    a, b = config.monitor.class_pair
    if max(a, b) >= data.num_classes:
        raise ValueError(
            f"monitor.class_pair [{a},{b}] is outside the {data.num_classes} classes of "
            f"{data.name} (0…{data.num_classes - 1}); pick two classes below {data.num_classes}"
        )


def build_weight_decay(
    config: WeightDecayConfig, device: torch.device | str = "cpu"
) -> tuple[Dataset, ReLUMLP, torch.optim.AdamW]:
    """The seeded dataset, the scaled freshly initialised MLP and AdamW of a run.

    The caller seeds torch first (the run loop does, with ``config.seed``).
    """
    d = config.data
    data = load_dataset(
        d.name,
        seed=config.seed,
        train_size=d.train_size,
        test_fraction=d.test_fraction,
        root=d.root,
    ).to(device)
    _check_class_pair(config, data)
    input_dim = int(torch.tensor(data.input_shape).prod())
    model = ReLUMLP(
        input_dim, data.num_classes, hidden_dim=config.model.hidden_dim, depth=config.model.depth
    )
    scale_parameters(model, config.model.init_scale)
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        betas=(config.optim.beta1, config.optim.beta2),
    )
    return data, model, optimizer


def weight_decay_headlines(store: RunStore, config: WeightDecayConfig) -> tuple[Headline, ...]:
    """The run's memorisation and generalisation steps, RNC1 and redundant-information falls.

    Each is None when the run did not get there (or the series is not recorded).
    """
    stored = {(m, s) for m, s, _ in store.keys()}

    def at(metric: str, split: str, find: str) -> float | None:
        if (metric, split) not in stored:
            return None
        steps, values = store.series(metric, split)
        if find == "fit":
            step = first_step_reaching(steps, values, FIT_THRESHOLD)
        elif find == "gain":
            step = gain_step(steps, values, GENERALIZE_FRACTION)
        elif find == "half_peak":
            step = drop_step(steps, values)
        else:  # half of the fall from the peak to the final value
            step = drop_step(steps, values, baseline=float(values[-1]))
        return None if step is None else float(step)

    final = None
    if ("accuracy", "test") in stored:
        final = float(store.series("accuracy", "test")[1][-1])
    rnc1 = rnc1_key(config.monitor.rnc1_norm)
    redundant = information_plane_keys(config.monitor.mi_estimator)[2]
    steps = "{:,.0f}"
    fit = f"train acc ≥ {FIT_THRESHOLD:g} at step"
    gain = f"test acc at {GENERALIZE_FRACTION:.0%} of its gain at step"
    return (
        Headline("fit_step", fit, at("accuracy", "train", "fit"), steps),
        Headline("t_generalize", gain, at("accuracy", "test", "gain"), steps),
        Headline(
            "t_rnc1_half",
            f"{rnc1} (test) below half its peak at step",
            at(rnc1, "test", "half_peak"),
            steps,
        ),
        Headline(
            "t_nc1_trace_half",
            "nc1_trace (test) below half its peak at step",
            at("nc1_trace", "test", "half_peak"),
            steps,
        ),
        Headline(
            "t_redundant_half",
            f"{redundant} (test) half-way down at step",
            at(redundant, "test", "half_drop"),
            steps,
        ),
        Headline(
            "t_nhsic_redundant_half",
            "nhsic_redundant (test) half-way down at step",
            at("nhsic_redundant", "test", "half_drop"),
            steps,
        ),
        Headline("final_test_accuracy", "test accuracy at the end", final, "{:.3f}"),
    )


def weight_decay_markers(headlines: tuple[Headline, ...]) -> StepMarkers:
    """Memorisation and generalisation lines, the stretch between them shaded."""
    values = {h.key: h.value for h in headlines}
    fit, gen = values.get("fit_step"), values.get("t_generalize")
    lines = []
    if fit is not None:
        lines.append(Marker(int(fit), f"memorised: train acc ≥ 0.99 (step {fit:,.0f})", "0.35"))
    if gen is not None:
        label = f"generalised: test acc at {GENERALIZE_FRACTION:.0%} of gain (step {gen:,.0f})"
        lines.append(Marker(int(gen), label, "tab:green", "-."))
    spans: tuple[Span, ...] = ()
    if fit is not None and gen is not None and gen > fit:
        spans = (Span(int(fit), int(gen), "memorised, not yet generalised"),)
    parts = [
        f"memorised at step {fit:,.0f}" if fit is not None else "never memorised",
        f"generalised at step {gen:,.0f}" if gen is not None else "never generalised",
    ]
    return StepMarkers(tuple(lines), spans, ", ".join(parts))


class WeightDecay(Experiment[WeightDecayConfig, WeightDecaySetup]):
    """Sakamoto & Sato's MLP with a large initialisation: weight decay sets the grokking delay."""

    name = "weight-decay"
    description = (
        "MLP with init × 8 memorises, then generalises as weight decay shrinks it; RNC1, NC2, "
        "margins and redundant information (Sakamoto & Sato)"
    )
    config_type = WeightDecayConfig

    def build(self, config: WeightDecayConfig, device: torch.device) -> WeightDecaySetup:
        data, model, optimizer = build_weight_decay(config, device)
        batches = ShuffledBatches(data.y_train.numel(), config.data.batch_size, config.seed + 1)
        return WeightDecaySetup(
            model=model,
            optimizer=optimizer,
            stateful={"batches": batches},
            data=data,
            batches=batches,
            loss=config.loss,
        )

    def train_step(self, setup: WeightDecaySetup, step: int) -> StepResult:
        data = setup.dataset
        assert setup.batches is not None
        index = setup.batches.next().to(data.x_train.device)
        x, y = data.x_train[index], data.y_train[index]
        setup.model.train()
        setup.optimizer.zero_grad(set_to_none=True)
        _objective(setup.model(x), y, setup.loss).backward()
        setup.optimizer.step()
        return StepResult(inputs=x, labels=y)

    @staticmethod
    def measure_schedule(config: WeightDecayConfig) -> AnyOf:
        """Log-spaced steps (and step 0), evenly spaced ones, and the last step."""
        mon = config.monitor
        parts: list[Schedule] = [log_spaced(1, config.steps, mon.points), at_steps(config.steps)]
        if mon.linear_points:
            parts.append(every(max(1, config.steps // mon.linear_points)))
        return AnyOf(tuple(parts))

    def schedules(self, config: WeightDecayConfig) -> LoopSchedules:
        mon = config.monitor
        return LoopSchedules(
            log=AnyOf((every(mon.log_every), self.measure_schedule(config))),
            checkpoint=AnyOf((every(mon.checkpoint_every), at_steps(config.steps))),
        )

    def probes(self, setup: WeightDecaySetup, config: WeightDecayConfig) -> ProbePlan:
        mon, data = config.monitor, setup.dataset
        schedule = self.measure_schedule(config)
        # A fixed random subset (in random order) of the held-out set, so the first
        # ib_samples rows the information plane keeps are a random sample too.
        generator = torch.Generator().manual_seed(config.seed + 2)
        held_out = torch.randperm(data.y_test.numel(), generator=generator)[: mon.eval_samples]
        held_out = held_out.to(data.x_test.device)
        evaluation = {
            "train": batches_of(data.x_train, data.y_train, mon.eval_batch),
            "test": batches_of(data.x_test[held_out], data.y_test[held_out], mon.eval_batch),
        }
        a, b = mon.class_pair
        probes = {
            "neural_collapse": Probe(
                NeuralCollapse(
                    # every one-pass measure: NC4 is left out because a periodic monitor would
                    # score it against the class means of the previous measurement
                    data.num_classes,
                    measures=MEASURES,
                    rnc1_norm=mon.rnc1_norm,
                ),
                schedule,
            ),
            "margins": Probe(ClassPairMargins(a, b), schedule),
        }
        if mon.information_plane:
            probes["information_plane"] = Probe(
                InformationPlane(
                    max_samples=mon.ib_samples,
                    estimator=mon.mi_estimator,
                    nhsic_batch_size=mon.nhsic_batch,
                    num_classes=data.num_classes,
                ),
                schedule,
            )
        return ProbePlan(probes=probes, evaluation=evaluation, head="head")

    def log_values(self, setup: WeightDecaySetup, step: int) -> dict[str, dict[str, float]]:
        data = setup.dataset
        return {
            "train": _loss_and_accuracy(setup.model, data.x_train, data.y_train, setup.loss),
            "test": _loss_and_accuracy(setup.model, data.x_test, data.y_test, setup.loss),
        }

    def summarize(self, store: RunStore, config: WeightDecayConfig) -> RunSummary:
        from infodyn.experiments.weight_decay_report import draw_run_margins

        headlines = weight_decay_headlines(store, config)
        a, b = config.monitor.class_pair
        margins = FigureSpec(
            filename="margins.png",
            caption=(
                f"Margins of the class-{a} and class-{b} samples to the head's {a}-vs-{b} "
                f"boundary, training (left halves) and held-out (right halves), at the "
                f"memorisation step and at the end (Sakamoto & Sato, Fig. 2)."
            ),
            metrics=(rnc1_key(config.monitor.rnc1_norm),),
            draw=lambda s, markers: draw_run_margins(s, headlines, config.monitor.class_pair),
        )
        return RunSummary(
            headlines=headlines, markers=weight_decay_markers(headlines), figures=(margins,)
        )

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        from infodyn.experiments.weight_decay_report import summarize_study

        return summarize_study(comparison)


WEIGHT_DECAY = register(WeightDecay())
