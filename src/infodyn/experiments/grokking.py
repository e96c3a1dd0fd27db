"""Grokking on modular addition (Power et al. 2022), watched through matrix information.

Default: a + b mod 97, 40 % of the 9,409 pairs for training, an MLP (two 64-d embeddings →
256 ReLU units → linear head), full-batch AdamW (lr 1e-3, weight decay 1.0, betas 0.9/0.98).
Train accuracy saturates within a few hundred steps; test accuracy follows thousands of steps
later. MIR, HDR and both matrix entropies of (penultimate features, head rows) are recorded on a
log-spaced schedule, per split, on fixed evaluation subsets, and (``monitor.richness``) the
dynamical richness D_LR of the same features with the logits as the learned functions.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

import torch
from pydantic import Field

from infodyn.checkpoint import latest_checkpoint, save_checkpoint
from infodyn.config import StrictConfig
from infodyn.data.modular import ModularSplit, split_modular
from infodyn.experiments._training import fixed_subset, full_batch_step, loss_and_accuracy
from infodyn.experiments.base import Experiment, ExperimentConfig, ProgressCallback, register
from infodyn.metrics import MatrixInformation, Richness
from infodyn.models.mlp import ModularMLP
from infodyn.monitor import Monitor, Probe, batches_of
from infodyn.rundir import RunDir
from infodyn.schedules import AnyOf, at_steps, every, log_spaced


class ModularDataConfig(StrictConfig):
    modulus: int = Field(97, ge=2)
    operation: Literal["add", "sub", "mul"] = "add"
    train_fraction: float = Field(0.4, gt=0.0, lt=1.0)


class ModularModelConfig(StrictConfig):
    embed_dim: int = Field(64, ge=1)
    hidden_dim: int = Field(256, ge=1)


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


class GrokkingConfig(ExperimentConfig):
    experiment: Literal["grokking"] = "grokking"
    steps: int = Field(7000, ge=1)
    data: ModularDataConfig = ModularDataConfig()
    model: ModularModelConfig = ModularModelConfig()
    optim: AdamWConfig = AdamWConfig()
    monitor: GrokkingMonitorConfig = GrokkingMonitorConfig()


def build_grokking(
    config: GrokkingConfig,
) -> tuple[ModularSplit, ModularMLP, torch.optim.AdamW]:
    """The seeded data split, freshly initialised model and optimizer of a grokking run."""
    torch.manual_seed(config.seed)
    data = split_modular(
        config.data.modulus,
        config.data.train_fraction,
        seed=config.seed,
        operation=config.data.operation,
    )
    model = ModularMLP(config.data.modulus, config.model.embed_dim, config.model.hidden_dim)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.optim.lr,
        weight_decay=config.optim.weight_decay,
        betas=(config.optim.beta1, config.optim.beta2),
    )
    return data, model, optimizer


def run_grokking(config: GrokkingConfig, run: RunDir, progress: ProgressCallback) -> dict[str, Any]:
    """Train (or resume) the grokking run in ``run``; returns the final values."""
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    data, model, optimizer = build_grokking(config)
    store = run.store()
    device = torch.device(config.device)
    model.to(device)
    data = dataclasses.replace(
        data,
        x_train=data.x_train.to(device),
        y_train=data.y_train.to(device),
        x_test=data.x_test.to(device),
        y_test=data.y_test.to(device),
    )
    first_step = 0
    overhead_before = wall_before = 0.0
    checkpoint = latest_checkpoint(run)
    if checkpoint is not None:
        step, state = checkpoint
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_step = step + 1
        overhead_before = float(store.get_meta("monitor_time_s", 0.0))
        wall_before = float(store.get_meta("wall_time_s", 0.0))
    # Records after the last checkpoint are measured again; drop them so nothing is doubled.
    store.truncate_after(first_step - 1)

    mon = config.monitor
    schedule = AnyOf((log_spaced(1, config.steps, mon.points), at_steps(config.steps)))
    metric = MatrixInformation(mode=mon.mode, max_samples=mon.eval_samples)
    probes = {"matrix_information": Probe(metric, schedule)}
    if mon.richness:
        probes["richness"] = Probe(Richness(max_samples=mon.eval_samples), schedule)
    monitor = Monitor(model, store, probes, head="head")
    evaluation = {
        split: batches_of(x[idx], y[idx], mon.eval_batch)
        for split, x, y, idx in (
            (
                "train",
                data.x_train,
                data.y_train,
                fixed_subset(len(data.y_train), mon.eval_samples, config.seed + 1),
            ),
            (
                "test",
                data.x_test,
                data.y_test,
                fixed_subset(len(data.y_test), mon.eval_samples, config.seed + 2),
            ),
        )
    }
    log_loss = AnyOf((every(mon.log_every), schedule))
    checkpoints = AnyOf((every(mon.checkpoint_every), at_steps(config.steps)))
    final: dict[str, Any] = {}
    for step in range(first_step, config.steps + 1):
        if step > 0:
            full_batch_step(model, optimizer, data.x_train, data.y_train)
        if log_loss(step):
            for split, x, y in (
                ("train", data.x_train, data.y_train),
                ("test", data.x_test, data.y_test),
            ):
                values = loss_and_accuracy(model, x, y)
                monitor.log(step, split, values)
                final.update({f"{split}_{k}": v for k, v in values.items()})
        for split, batches in evaluation.items():
            final.update(
                {f"{split}_{k}": v for k, v in monitor.measure(step, split, batches()).items()}
            )
        monitor.flush()
        if checkpoints(step):
            tick = time.perf_counter()
            save_checkpoint(
                run,
                step,
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
            )
            monitor.elapsed_s += time.perf_counter() - tick
            store.set_meta("steps_completed", step)
            store.set_meta("monitor_time_s", overhead_before + monitor.elapsed_s)
            store.set_meta("wall_time_s", wall_before + time.perf_counter() - started)
        progress(step, config.steps)
    store.set_meta("threads", config.threads)
    store.set_meta("device", str(device))
    store.close()
    return final


GROKKING = register(
    Experiment(
        name="grokking",
        description="modular addition: memorise first, generalise much later; MIR/HDR meanwhile",
        config_type=GrokkingConfig,
        run=run_grokking,
    )
)
