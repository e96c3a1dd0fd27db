"""Shared pieces of the sweep tests: a tiny grokking config and record readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infodyn.rundir import RunDir

TINY = [
    "--set", "steps=30",
    "--set", "data.modulus=11",
    "--set", "model.embed_dim=8",
    "--set", "model.hidden_dim=32",
    "--set", "monitor.points=4",
    "--set", "monitor.eval_samples=32",
    "--set", "monitor.eval_batch=32",
    "--set", "monitor.checkpoint_every=10",
]  # fmt: skip

GRID_2X2 = ["--grid", "optim.weight_decay=0.1,1.0", "--seeds", "2"]


def records(run_dir: Path) -> list[tuple[Any, ...]]:
    """Every scalar record of a run, ordered by key."""
    with RunDir.open(run_dir).store(readonly=True) as store:
        return [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]


def array_records(run_dir: Path) -> list[tuple[Any, ...]]:
    """Every array record of a run as (key…, values as a list), ordered by key."""
    with RunDir.open(run_dir).store(readonly=True) as store:
        return [(r.step, r.split, r.metric, r.layer, r.value.tolist()) for r in store.arrays()]


def manifest_runs(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """The manifest's runs by name, read straight from the JSON file."""
    data = json.loads((sweep_dir / "sweep.json").read_text())
    return {run["name"]: run for run in data["runs"]}


def meta(run_dir: Path) -> dict[str, Any]:
    with RunDir.open(run_dir).store(readonly=True) as store:
        return store.meta()
