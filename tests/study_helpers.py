"""Hand-made weight-decay runs with known steps, for the λ study's tests (exact expectations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infodyn.config import build_config
from infodyn.experiments.weight_decay import WeightDecayConfig
from infodyn.rundir import RunDir
from infodyn.store import Array, Scalar

__all__ = ["STEPS", "richness_run", "study_run"]

STEPS = np.arange(0, 20_001, 100)


def study_run(root: Path, lam: float, seed: int, *, slower_with_decay: bool = False) -> RunDir:
    """Test accuracy jumps at t = 100/λ (× 10 when ``slower_with_decay``); RNC1 halves at
    0.8 t, the redundant information halves its drop at t."""
    t = 100 / lam if not slower_with_decay else 10 * lam * 1000
    config = build_config(
        WeightDecayConfig, [f"optim.weight_decay={lam}", f"seed={seed}", "steps=20000"]
    )
    run = RunDir.create(root / f"wd{lam}-s{seed}", config.model_dump(mode="json"))
    records = []
    for s in STEPS.tolist():
        records += [
            Scalar(s, "train", "accuracy", 1.0 if s >= 50 else 0.1),
            Scalar(s, "test", "accuracy", 0.95 if s >= t else 0.1),
            Scalar(s, "test", "rnc1", 0.2 if s >= 0.8 * t else 1.0, "head:input"),
            Scalar(s, "train", "rnc1", 0.2 if s >= 0.8 * t else 1.0, "head:input"),
            Scalar(s, "train", "nc2_cond", 5.0 if s >= t else 50.0, "head:input"),
            Scalar(s, "test", "redundant_information", 1.0 if s >= t else 2.0, "head:input"),
            Scalar(s, "test", "nhsic_redundant", 3.0 if s >= t else 9.0, "head:input"),
        ]
    g = np.random.default_rng(seed)
    arrays = [
        Array(s, split, f"margins_{c}", g.normal(1 if c == "a" else -1, 0.3, 20), "head:input")
        for s in (0, 50, 20_000)
        for split in ("train", "test")
        for c in "ab"
    ]
    with run.store() as store:
        store.write(records, arrays)
    return run


def richness_run(root: Path, batchnorm: bool, lr: float, seed: int) -> RunDir:
    """A richness-study run (digits config) whose final D_LR is 0.5 without BatchNorm and 0.4
    with it at lr 0.01, lower by 0.1 at lr 0.03 and back up at 0.1 (± 0.01 by seed)."""
    from infodyn.experiments.richness_study import RichnessStudyConfig

    overrides = [f"model.batchnorm={str(batchnorm).lower()}", f"optim.lr={lr}", f"seed={seed}"]
    config = build_config(RichnessStudyConfig, ["data.name=digits", "epochs=1", *overrides])
    run = RunDir.create(root / f"bn{batchnorm}-lr{lr}-s{seed}", config.model_dump(mode="json"))
    final = {0.01: 0.5, 0.03: 0.4, 0.1: 0.45}[lr] - (0.1 if batchnorm else 0.0)
    final += 0.01 if seed else -0.01
    g = np.random.default_rng(seed)
    records, arrays = [], []
    for step, d in ((0, 0.6), (config.steps, final)):
        for split in ("train", "test"):
            records += [
                Scalar(step, split, "d_lr", d, "head:input"),
                Scalar(step, split, "num_classes", 10.0, "head:input"),
                Scalar(step, split, "accuracy", 0.1 if step == 0 else 0.9),
            ]
            arrays += [
                Array(step, split, name, np.sort(g.uniform(0, 1, 16)), "head:input")
                for name in ("quality_cumulative", "utilization_cumulative")
            ]
            arrays.append(
                Array(step, split, "relative_norms", np.geomspace(1, 1e-3, 16), "head:input")
            )
        records += [
            Scalar(step, "train", "s_init", 1.0 if step == 0 else 0.5),
            Scalar(step, "train", "param_norm_ratio", 1.0 if step == 0 else 2.0),
        ]
    with run.store() as store:
        store.write(records, arrays)
    return run
