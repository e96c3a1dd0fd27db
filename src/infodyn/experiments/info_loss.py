"""MIR and HDR as loss terms, supervised and semi-supervised (Song et al. 2024, §6).

Song et al. add −λ_mi·MIR + λ_id·HDR — features against the head rows of their labels — to the
training loss and report higher accuracy, largest with few labels in semi-supervised learning
(FixMatch on CIFAR/STL with WideResNets). This experiment asks the same question at a scale a
CPU trains in a minute: scikit-learn's 8×8 digits (or mnist1d) with ``data.labels_per_class``
labeled samples per class and a two-block CNN.

``method=supervised`` trains on the labeled samples only (weakly augmented):

    L = CE(labeled) − λ_mir·MIR(Z_l, W_y) + λ_hdr·HDR(Z_l, W_y)

``method=fixmatch`` adds the unlabeled rest of the training split (Sohn et al. 2020): a labeled
batch B and an unlabeled batch μB, each unlabeled sample seen as a weak and a strong view
(:mod:`infodyn.data.augment`), pseudo-labels from confident weak views (τ = 0.95):

    L = CE(labeled) + λ_u·(1/μB) Σ 1[conf ≥ τ]·CE(strong, pseudo)
        − λ_mir·MIR(Z_s, W_ŷ) + λ_hdr·HDR(Z_s, W_ŷ)

with the MIR/HDR terms on the strong views' features of the confident samples, each paired
with the head row of its pseudo-label (:mod:`infodyn.experiments.info_loss_fixmatch`). The
three views go through the network in one batch. ``info.lambda_mir = info.lambda_hdr = 0``
(the default) is the plain method; the terms use :class:`~infodyn.losses.MatrixInformationLoss`
(gradients into features and head).

Recorded: loss and accuracy of the labeled set (``train``), the unlabeled pool (``unlabeled``,
true labels) and the held-out split (``test``) every ``monitor.eval_every`` steps; MIR, HDR and
the matrix entropies of held-out features (a fixed subset of ``monitor.mi_samples``) on the
same schedule; and, as means over the steps since the last record (live), the supervised and
unlabeled losses, the share of confident pseudo-labels (``mask_rate``) and how many of them
are right (``pseudo_label_accuracy``), the info term, the share of steps it was applied and the
share it was skipped because the features had collapsed to one direction (``info_collapsed``,
see :mod:`~infodyn.experiments.info_loss_fixmatch`).

Comparisons (:mod:`infodyn.experiments.info_loss_report`): a table of held-out accuracy per
arm and label budget, mean ± std over seeds, with the seed-paired gain over the same method
without the terms and over supervised cross-entropy, and the λ sensitivity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from infodyn.data.augment import Augmenter
from infodyn.data.datasets import Dataset, load_dataset
from infodyn.experiments._training import loss_and_accuracy
from infodyn.experiments.base import (
    Experiment,
    LoopSchedules,
    ProbePlan,
    Setup,
    StepResult,
    register,
)
from infodyn.experiments.info_loss_config import InfoLossConfig
from infodyn.experiments.info_loss_data import CyclicBatches, StepMeans, labeled_split
from infodyn.experiments.info_loss_fixmatch import info_term, pseudo_labels, unlabeled_loss
from infodyn.experiments.lmc_path import matrix_info_or_nan
from infodyn.experiments.lmc_readout import SplitReadout
from infodyn.losses import MatrixInformationLoss
from infodyn.models.small import SmallCNN
from infodyn.monitor import Probe, batches_of
from infodyn.schedules import AnyOf, Schedule, at_steps, every
from infodyn.store import RunStore
from infodyn.summary import ComparisonSummary, FigureSpec, Headline, RunSummary
from infodyn.tap import eval_mode
from infodyn.viz._style import Panel, plot_metric_panels

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = ["InfoLoss", "InfoLossConfig", "InfoLossSetup", "info_loss_headlines"]


_OBJECTIVE_PANELS: tuple[Panel, ...] = (
    (
        "losses",
        "nats",
        "losses",
        True,
        (
            ("loss_supervised", "CE (labeled)", "tab:blue"),
            ("loss_unlabeled", "consistency (unlabeled)", "tab:orange"),
        ),
    ),
    (
        "pseudo-labels",
        "share",
        "pseudo-labels (fixmatch only)",
        False,
        (
            ("mask_rate", "confident", "tab:green"),
            ("pseudo_label_accuracy", "right, of the confident", "tab:purple"),
        ),
    ),
    (
        "MIR/HDR term",
        "−λ_mir·MIR + λ_hdr·HDR",
        "info term (weights 0)",
        False,
        (
            ("info_term", "term", "tab:red"),
            ("info_applied", "share of steps applied", "0.4"),
            ("info_collapsed", "share skipped: features collapsed", "tab:brown"),
        ),
    ),
)
_LIVE = (
    "loss_supervised",
    "loss_unlabeled",
    "mask_rate",
    "pseudo_label_accuracy",
    "info_term",
    "info_applied",
    "info_collapsed",
)


@dataclass
class InfoLossSetup(Setup):
    """Model, optimiser and everything a step draws from."""

    data: Dataset | None = None
    labeled: Tensor | None = None
    unlabeled: Tensor | None = None
    labeled_batches: CyclicBatches | None = None
    unlabeled_batches: CyclicBatches | None = None
    augmenter: Augmenter | None = None
    regulariser: MatrixInformationLoss | None = None
    meter: StepMeans | None = None
    config: InfoLossConfig | None = None


def build_info_loss(
    config: InfoLossConfig, device: torch.device | str = "cpu"
) -> tuple[Dataset, Tensor, Tensor, SmallCNN]:
    """The dataset, labeled and unlabeled training indices, and a fresh network.

    The caller seeds torch first (the run loop does, with ``config.seed``).
    """
    d, m = config.data, config.model
    data = load_dataset(d.name, seed=config.seed, test_fraction=d.test_fraction).to(device)
    labeled, unlabeled = labeled_split(data.y_train, d.labels_per_class, config.seed)
    model = SmallCNN(
        data.input_shape,
        data.num_classes,
        channels=m.channels,
        hidden=m.hidden,
        batchnorm=m.batchnorm,
    ).to(device)
    return data, labeled.to(device), unlabeled.to(device), model


def _cosine(steps: int) -> Any:
    # FixMatch's schedule: lr · cos(7πk / 16K), from lr down to cos(7π/16) ≈ 0.2 of it.
    return lambda k: float(np.cos(7 * np.pi * k / (16 * steps)))


class InfoLoss(Experiment[InfoLossConfig, InfoLossSetup]):
    """Cross-entropy or FixMatch, with and without −λ_mir·MIR + λ_hdr·HDR, with few labels."""

    name = "info-loss"
    description = (
        "MIR/HDR as loss terms with few labels: supervised cross-entropy or FixMatch, with and "
        "without the terms (Song et al. §6)"
    )
    config_type = InfoLossConfig

    def build(self, config: InfoLossConfig, device: torch.device) -> InfoLossSetup:
        data, labeled, unlabeled, model = build_info_loss(config, device)
        o = config.optim
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=o.lr,
            momentum=o.momentum,
            nesterov=o.momentum > 0,
            weight_decay=o.weight_decay,
        )
        stateful: dict[str, Any] = {}
        labeled_batches = CyclicBatches(labeled.numel(), o.labeled_batch, config.seed + 1)
        stateful["labeled_batches"] = labeled_batches
        unlabeled_batches = None
        if config.method == "fixmatch":
            size = o.labeled_batch * config.fixmatch.unlabeled_ratio
            unlabeled_batches = CyclicBatches(unlabeled.numel(), size, config.seed + 2)
            stateful["unlabeled_batches"] = unlabeled_batches
        augmenter = Augmenter(config.augment.policy(), config.seed + 3)
        meter = StepMeans(_LIVE)
        stateful.update(augmenter=augmenter, meter=meter)
        if o.cosine:
            stateful["scheduler"] = torch.optim.lr_scheduler.LambdaLR(
                optimizer, _cosine(config.steps)
            )
        return InfoLossSetup(
            model=model,
            optimizer=optimizer,
            stateful=stateful,
            data=data,
            labeled=labeled,
            unlabeled=unlabeled,
            labeled_batches=labeled_batches,
            unlabeled_batches=unlabeled_batches,
            augmenter=augmenter,
            regulariser=MatrixInformationLoss(config.info.lambda_mir, config.info.lambda_hdr),
            meter=meter,
            config=config,
        )

    def _losses(self, setup: InfoLossSetup) -> tuple[Tensor, dict[str, float]]:
        """This step's loss and its parts (the step's live values)."""
        config, data, model = setup.config, setup.data, setup.model
        assert config is not None and data is not None and isinstance(model, SmallCNN)
        assert setup.labeled is not None and setup.unlabeled is not None
        assert setup.labeled_batches is not None and setup.augmenter is not None
        assert setup.regulariser is not None
        device = data.x_train.device
        rows = setup.labeled[setup.labeled_batches.next().to(device)]
        x_l, y_l = setup.augmenter.weak(data.x_train[rows]), data.y_train[rows]
        head = model.head.weight
        if config.method == "supervised":
            z = model.features(x_l)
            loss_sup = F.cross_entropy(model.head(z), y_l)
            info = info_term(setup.regulariser, z, head, y_l)
            values = {"loss_supervised": float(loss_sup.detach())}
            loss = loss_sup + info.value
        else:
            assert setup.unlabeled_batches is not None
            pool = setup.unlabeled[setup.unlabeled_batches.next().to(device)]
            x_u, y_u = data.x_train[pool], data.y_train[pool]
            views = torch.cat([x_l, setup.augmenter.weak(x_u), setup.augmenter.strong(x_u)])
            z = model.features(views)
            n_l, n_u = x_l.shape[0], x_u.shape[0]
            logits_l, logits_w, logits_s = model.head(z).split([n_l, n_u, n_u])
            pseudo = pseudo_labels(logits_w, config.fixmatch.threshold)
            loss_sup = F.cross_entropy(logits_l, y_l)
            loss_u = unlabeled_loss(logits_s, pseudo)
            z_strong = z[n_l + n_u :]
            info = info_term(setup.regulariser, z_strong, head, pseudo.labels, pseudo.mask)
            loss = loss_sup + config.fixmatch.unlabeled_weight * loss_u + info.value
            confident = int(pseudo.mask.sum())
            values = {
                "loss_supervised": float(loss_sup.detach()),
                "loss_unlabeled": float(loss_u.detach()),
                "mask_rate": confident / n_u,
            }
            if confident:
                right = (pseudo.labels[pseudo.mask] == y_u[pseudo.mask]).double().mean()
                values["pseudo_label_accuracy"] = float(right)
        if config.info.on:
            values["info_term"] = float(info.value.detach())
            values["info_applied"] = float(info.applied)
            values["info_collapsed"] = float(info.collapsed)
        return loss, values

    def train_step(self, setup: InfoLossSetup, step: int) -> StepResult:
        setup.model.train()
        loss, values = self._losses(setup)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
        scheduler = setup.stateful.get("scheduler")
        if scheduler is not None:
            scheduler.step()
        assert setup.meter is not None and setup.config is not None
        setup.meter.add(values)
        logged = self._log_schedule(setup.config)(step)
        return StepResult(values=setup.meter.pop() if logged else {})

    @staticmethod
    def _log_schedule(config: InfoLossConfig) -> Schedule:
        return AnyOf((every(config.monitor.eval_every), at_steps(config.steps)))

    def schedules(self, config: InfoLossConfig) -> LoopSchedules:
        return LoopSchedules(
            log=self._log_schedule(config),
            checkpoint=AnyOf((every(config.monitor.checkpoint_every), at_steps(config.steps))),
        )

    def probes(self, setup: InfoLossSetup, config: InfoLossConfig) -> ProbePlan:
        data, model = setup.data, setup.model
        assert data is not None and isinstance(model, SmallCNN)
        order = torch.randperm(
            data.y_test.numel(), generator=torch.Generator().manual_seed(config.seed + 4)
        )
        order = order[: config.monitor.mi_samples].to(data.x_test.device)

        def held_out_information(x: Tensor, y: Tensor) -> dict[str, Tensor]:
            with eval_mode(model):
                z = model.features(x)
            values = matrix_info_or_nan(z, model.head.weight.detach(), y)
            names = ("mir", "hdr", "entropy_features", "entropy_head", "zero_feature_fraction")
            return {
                k: torch.tensor(v, dtype=torch.float64) for k, v in zip(names, values, strict=True)
            }

        probes = {
            "matrix_information": Probe(
                SplitReadout(held_out_information), self._log_schedule(config)
            )
        }
        evaluation = {
            "test": batches_of(data.x_test[order], data.y_test[order], config.monitor.mi_samples)
        }
        return ProbePlan(probes=probes, evaluation=evaluation, head="head")

    def log_values(self, setup: InfoLossSetup, step: int) -> dict[str, dict[str, float]]:
        data, model = setup.data, setup.model
        assert data is not None and isinstance(model, SmallCNN)
        assert setup.labeled is not None and setup.unlabeled is not None
        out = {
            "train": loss_and_accuracy(
                model, data.x_train[setup.labeled], data.y_train[setup.labeled]
            ),
            "test": loss_and_accuracy(model, data.x_test, data.y_test),
        }
        if setup.unlabeled.numel():
            x_u, y_u = data.x_train[setup.unlabeled], data.y_train[setup.unlabeled]
            out["unlabeled"] = loss_and_accuracy(model, x_u, y_u)
        return out

    def summarize(self, store: RunStore, config: InfoLossConfig) -> RunSummary:
        figure = FigureSpec(
            filename="objective.png",
            caption=(
                "The training objective's parts, means over each evaluation interval: the "
                "supervised and unlabeled (consistency) losses, the share of confident "
                "pseudo-labels and how many of them are right, and the MIR/HDR term."
            ),
            metrics=("loss_supervised",),
            draw=lambda s, markers: plot_metric_panels(s, _OBJECTIVE_PANELS, "Objective", markers),
        )
        return RunSummary(headlines=info_loss_headlines(store), figures=(figure,))

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        from infodyn.experiments.info_loss_report import summarize_info_loss

        return summarize_info_loss(comparison)


#: (key, metric, split, label, format) of the headlines, each read at the last recorded step.
HEADLINES = (
    ("final_test_accuracy", "accuracy", "test", "test accuracy at the end", "{:.3f}"),
    (
        "final_unlabeled_accuracy",
        "accuracy",
        "unlabeled",
        "unlabeled-pool accuracy at the end",
        "{:.3f}",
    ),
    ("final_mask_rate", "mask_rate", "train", "confident pseudo-labels (last interval)", "{:.3f}"),
    (
        "final_pseudo_label_accuracy",
        "pseudo_label_accuracy",
        "train",
        "pseudo-labels right (last interval)",
        "{:.3f}",
    ),
    ("final_test_mir", "mir", "test", "MIR of held-out features at the end", "{:.3f}"),
    ("final_test_hdr", "hdr", "test", "HDR of held-out features at the end", "{:.3f}"),
)


def info_loss_headlines(store: RunStore) -> tuple[Headline, ...]:
    """Final accuracies, pseudo-label quality and held-out MIR/HDR (None where not recorded)."""
    stored = {(m, s) for m, s, _ in store.keys()}
    out = []
    for key, metric, split, label, fmt in HEADLINES:
        value = None
        if (metric, split) in stored:
            value = float(store.series(metric, split)[1][-1])
        out.append(Headline(key, label, value, fmt))
    return tuple(out)


INFO_LOSS = register(InfoLoss())
