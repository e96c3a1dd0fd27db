"""Linear mode connectivity, watched through matrix information (Song et al. 2024, §5).

Four networks of one architecture train side by side on the same data, each on its own
shuffled order:

* **A** and **B** start from *one* initialisation; with ``shared_steps = k`` A trains alone for
  k steps and B is spawned as its exact copy — parameters, buffers and optimiser state — then
  both continue on different data orders (Frankle et al. 2020, "Linear Mode Connectivity and
  the Lottery Ticket Hypothesis": the *connected* pair when training is stable to SGD noise);
* **C** and **D** start from two *independent* initialisations (the control pair).

At ``monitor.path_points`` evenly spaced steps and at the end, both paths
θ(α) = (1 − α)·θ_A + α·θ_B (and C → D) are measured on the training and held-out splits for
every α of ``alphas``: loss, accuracy, MIR, HDR and the two matrix entropies of the head's
input against the head rows of the labels, with BatchNorm statistics recomputed at each α by a
pass over the training set (:mod:`infodyn.experiments.lmc_path`).

**How it is stored, and why.** The step axis keeps one meaning — training steps — so the
generic report and ``infodyn compare`` curves stay right. A path is a function of α measured
*at* a training step: it is stored as arrays at that step, layer ``connected`` or
``independent`` (``path_loss``, ``path_accuracy``, ``path_mir``, ``path_hdr``,
``path_entropy_features``, ``path_entropy_head``, ``path_zero_feature_fraction``, one entry per
α; the grid itself is ``path_alpha``), and its summaries are scalars at that step, so their
course over training is an ordinary series with seed bands in ``compare``:

* ``loss_barrier`` = max_α L(α) − [(1 − α)·L(0) + α·L(1)]  (nats),
* ``error_barrier`` = max_α [(1 − α)·acc(0) + α·acc(1)] − acc(α),
* ``mir_dip`` = max_α [(1 − α)·MIR(0) + α·MIR(1)] − MIR(α),
* ``hdr_rise`` = max_α HDR(α) − [(1 − α)·HDR(0) + α·HDR(1)],
* ``mir_change_at_barrier``, ``hdr_change_at_barrier``: MIR and HDR minus their chords at α*,
  the α of the loss barrier (signed: HDR can fall where the loss peaks).

Each network's own loss and accuracy (with its training-time BatchNorm statistics) are
``net_loss``/``net_accuracy``, layer ``A`` … ``D``, every ``monitor.log_every`` steps. The
figures draw the paths against α — connected against independent — from these arrays.

**Defaults** (digits, a 2-block CNN with BatchNorm, SGD lr 0.05 with momentum, batch 64, 1,000
steps ≈ 47 epochs, 11 α, paths at 5 steps) take ~30 s on one thread (29 s per run in a
10-run sweep on a shared 2-core machine).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

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
from infodyn.experiments.lmc_config import LMCConfig
from infodyn.experiments.lmc_path import (
    PathData,
    barrier,
    barrier_index,
    batchnorm_modules,
    change_at,
    measure_path,
)
from infodyn.experiments.lmc_readout import SplitReadout
from infodyn.models.small import SmallCNN
from infodyn.monitor import Probe, batches_of
from infodyn.schedules import AnyOf, Schedule, at_steps, every
from infodyn.store import RunStore
from infodyn.summary import ComparisonSummary, FigureSpec, Headline, RunSummary
from infodyn.tap import eval_mode

if TYPE_CHECKING:
    from infodyn.compare.build import Comparison

__all__ = [
    "LMC",
    "NETWORKS",
    "PAIRS",
    "LMCConfig",
    "LMCNetworks",
    "lmc_headlines",
    "path_summaries",
    "spawn",
]

#: The four networks, in build order.
NETWORKS = ("A", "B", "C", "D")
#: Each path's layer name and its endpoints.
PAIRS = {"connected": ("A", "B"), "independent": ("C", "D")}
#: Scalar summaries of a path: (name, path quantity, sign of "worse").
_SUMMARIES = (
    ("loss_barrier", "loss", 1.0),
    ("error_barrier", "accuracy", -1.0),
    ("mir_dip", "mir", -1.0),
    ("hdr_rise", "hdr", 1.0),
)


class LMCNetworks(nn.Module):
    """The four networks as submodules ``A`` … ``D``; calling it runs A (for the probe pass)."""

    def __init__(self, networks: Mapping[str, nn.Module]) -> None:
        super().__init__()
        for name, net in networks.items():
            self.add_module(name, net)

    def network(self, name: str) -> nn.Module:
        """Network ``name`` (one of :data:`NETWORKS`)."""
        return self.get_submodule(name)

    def forward(self, x: Tensor) -> Tensor:
        return self.network("A")(x)


@dataclass
class LMCSetup(Setup):
    """The networks with one optimiser, the dataset, each network's data order, and k."""

    data: Dataset | None = None
    orders: dict[str, ShuffledBatches] = field(default_factory=dict)
    shared_steps: int = 0

    @property
    def networks(self) -> LMCNetworks:
        assert isinstance(self.model, LMCNetworks)
        return self.model

    @property
    def dataset(self) -> Dataset:
        assert self.data is not None  # always set by build
        return self.data


def _new_network(config: LMCConfig, data: Dataset) -> SmallCNN:
    m = config.model
    return SmallCNN(
        data.input_shape,
        data.num_classes,
        channels=m.channels,
        hidden=m.hidden,
        batchnorm=m.batchnorm,
    )


def spawn(networks: LMCNetworks, optimizer: torch.optim.Optimizer, parent: str, child: str) -> None:
    """Make network ``child`` an exact copy of ``parent``: parameters, buffers, optimiser state."""
    source, target = networks.network(parent), networks.network(child)
    target.load_state_dict(source.state_dict())
    for p_source, p_target in zip(source.parameters(), target.parameters(), strict=True):
        state = optimizer.state.get(p_source)
        if state:
            optimizer.state[p_target] = {
                k: v.clone() if isinstance(v, Tensor) else copy.deepcopy(v)
                for k, v in state.items()
            }
        else:
            optimizer.state.pop(p_target, None)


def path_summaries(alphas: tuple[float, ...], path: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The scalar summaries of one measured path (see the module notes)."""
    out = {name: barrier(alphas, path[q], sign=sign) for name, q, sign in _SUMMARIES}
    star = barrier_index(alphas, path["loss"])
    out["mir_change_at_barrier"] = change_at(alphas, path["mir"], star)
    out["hdr_change_at_barrier"] = change_at(alphas, path["hdr"], star)
    return out


def _as_tensors(values: Mapping[str, Any]) -> dict[str, Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}


class LMC(Experiment[LMCConfig, LMCSetup]):
    """Connected (one init) vs independent (two inits) pairs: loss, accuracy, MIR, HDR along α."""

    name = "lmc"
    description = (
        "linear mode connectivity: loss, accuracy, MIR and HDR along θ(α) between two networks "
        "from one init vs two independent inits"
    )
    config_type = LMCConfig

    def build(self, config: LMCConfig, device: torch.device) -> LMCSetup:
        d = config.data
        data = load_dataset(
            d.name, seed=config.seed, train_size=d.train_size, test_fraction=d.test_fraction
        ).to(device)
        a = _new_network(config, data)
        # B is A's copy (same initialisation); C and D are fresh draws (independent ones).
        nets = {"A": a, "B": copy.deepcopy(a)}
        nets["C"] = _new_network(config, data)
        nets["D"] = _new_network(config, data)
        model = LMCNetworks(nets).to(device)
        o = config.optim
        # One SGD over the four networks: per-parameter updates, so each network trains as it
        # would alone; a network whose gradient is None (B before it is spawned) is skipped.
        optimizer = torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
        n = data.y_train.numel()
        orders = {
            name: ShuffledBatches(n, d.batch_size, config.seed + 1 + i)
            for i, name in enumerate(NETWORKS)
        }
        return LMCSetup(
            model=model,
            optimizer=optimizer,
            stateful={f"order_{k}": v for k, v in orders.items()},
            data=data,
            orders=orders,
            shared_steps=config.shared_steps,
        )

    def train_step(self, setup: LMCSetup, step: int) -> StepResult:
        data, nets = setup.dataset, setup.networks
        nets.train()
        setup.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=data.x_train.device)
        for name in NETWORKS:
            if name == "B" and step <= setup.shared_steps:
                continue  # B does not exist yet: A trains alone until it is spawned
            index = setup.orders[name].next().to(data.x_train.device)
            logits = nets.network(name)(data.x_train[index])
            total = total + F.cross_entropy(logits, data.y_train[index])
        # The networks share no parameter: the sum's gradient is each network's own gradient.
        total.backward()
        setup.optimizer.step()
        if step == setup.shared_steps:
            spawn(nets, setup.optimizer, "A", "B")
        return StepResult()

    @staticmethod
    def path_schedule(config: LMCConfig) -> AnyOf:
        """``monitor.path_points`` evenly spaced steps (not step 0) and the last step."""
        spacing = max(1, config.steps // config.monitor.path_points)
        return AnyOf((every(spacing, start=spacing), at_steps(config.steps)))

    def schedules(self, config: LMCConfig) -> LoopSchedules:
        return LoopSchedules(
            log=every(config.monitor.log_every),
            checkpoint=AnyOf((every(config.monitor.checkpoint_every), at_steps(config.steps))),
        )

    def probes(self, setup: LMCSetup, config: LMCConfig) -> ProbePlan:
        data, nets, mon = setup.dataset, setup.networks, config.monitor
        # Each split in a fixed random order, so the first mi_samples rows are a random subset.
        generator = torch.Generator().manual_seed(config.seed + 5)
        evaluation = {}
        for split, x, y in (
            ("train", data.x_train, data.y_train),
            ("test", data.x_test, data.y_test),
        ):
            order = torch.randperm(y.numel(), generator=generator).to(y.device)
            evaluation[split] = batches_of(x[order], y[order], mon.eval_batch)
        bn_pass = None
        if batchnorm_modules(nets):
            train_x = data.x_train

            def bn_pass() -> list[Tensor]:
                return list(train_x.split(mon.bn_batch))

        scratch = copy.deepcopy(nets.network("A"))

        def networks(x: Tensor, y: Tensor) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name in NETWORKS:
                net = nets.network(name)
                with eval_mode(net):
                    logits = torch.cat([net(xb) for xb in x.split(mon.eval_batch)])
                out[name] = _as_tensors(
                    {
                        "net_loss": float(F.cross_entropy(logits, y)),
                        "net_accuracy": float((logits.argmax(dim=1) == y).double().mean()),
                    }
                )
            return out

        def paths(x: Tensor, y: Tensor) -> dict[str, Any]:
            path_data = PathData(x, y, mon.mi_samples, bn_pass, mon.eval_batch)
            out: dict[str, Any] = {"path_alpha": torch.tensor(config.alphas, dtype=torch.float64)}
            for pair, (first, second) in PAIRS.items():
                path = measure_path(
                    nets.network(first),
                    nets.network(second),
                    config.alphas,
                    path_data,
                    scratch=scratch,
                )
                out[pair] = {
                    **_as_tensors({f"path_{k}": v for k, v in path.items()}),
                    **_as_tensors(path_summaries(config.alphas, path)),
                }
            return out

        net_schedule: Schedule = AnyOf((every(mon.log_every), at_steps(config.steps)))
        probes = {
            "networks": Probe(SplitReadout(networks), net_schedule),
            "paths": Probe(SplitReadout(paths), self.path_schedule(config)),
        }
        return ProbePlan(probes=probes, evaluation=evaluation, head="A.head")

    def summarize(self, store: RunStore, config: LMCConfig) -> RunSummary:
        from infodyn.experiments.lmc_report import draw_run_networks, draw_run_paths

        headlines = lmc_headlines(store)
        figures = (
            FigureSpec(
                filename="paths.png",
                caption=(
                    "Along θ(α) = (1 − α)·θ_A + α·θ_B at the last step: loss, accuracy, MIR and "
                    "HDR for the pair from one initialisation (connected, blue) and the pair from "
                    "two (independent, red); training split solid, held-out dashed; BatchNorm "
                    "statistics recomputed at every α."
                ),
                metrics=("loss_barrier",),
                draw=lambda s, _markers: draw_run_paths(s),
            ),
            FigureSpec(
                filename="networks.png",
                caption="Each network's loss and accuracy against step (training split solid).",
                metrics=("net_accuracy",),
                draw=lambda s, _markers: draw_run_networks(s),
            ),
        )
        return RunSummary(headlines=headlines, figures=figures)

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        from infodyn.experiments.lmc_report import summarize_lmc

        return summarize_lmc(comparison)


#: (headline key, metric, pair, label, format) read at the last path step, held-out split.
HEADLINES = tuple(
    (f"{metric}_{pair}", metric, pair, f"{metric.replace('_', ' ')} (test, {pair})", fmt)
    for pair in PAIRS
    for metric, fmt in (
        ("loss_barrier", "{:.3f}"),
        ("error_barrier", "{:.3f}"),
        ("mir_change_at_barrier", "{:+.3f}"),
        ("hdr_change_at_barrier", "{:+.3f}"),
    )
)


def lmc_headlines(store: RunStore) -> tuple[Headline, ...]:
    """Each pair's loss and error barriers and MIR's and HDR's change at the barrier, on
    held-out data at the last path step, and the four networks' mean held-out accuracy at the
    end (None where not recorded)."""
    stored = set(store.keys())
    out = []
    for key, metric, pair, label, fmt in HEADLINES:
        value = None
        if (metric, "test", pair) in stored:
            value = float(store.series(metric, "test", layer=pair)[1][-1])
        out.append(Headline(key, label, value, fmt))
    finals = [
        float(store.series("net_accuracy", "test", layer=n)[1][-1])
        for n in NETWORKS
        if ("net_accuracy", "test", n) in stored
    ]
    mean = float(np.mean(finals)) if finals else None
    out.append(
        Headline("final_test_accuracy", "mean test accuracy of A–D at the end", mean, "{:.3f}")
    )
    return tuple(out)


LMC_EXPERIMENT = register(LMC())
