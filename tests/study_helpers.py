"""Hand-made weight-decay runs with known steps, for the λ study's tests (exact expectations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infodyn.config import build_config
from infodyn.experiments.weight_decay import WeightDecayConfig
from infodyn.rundir import RunDir
from infodyn.store import Array, Scalar

__all__ = ["STEPS", "study_run"]

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
