"""The richness figure: drawn from a store (checkpoints, k = C line, missing panels) and from
in-memory results; the metric feeds it end to end through the monitor."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from infodyn.functional.richness import richness
from infodyn.metrics.richness import Richness
from infodyn.monitor import Monitor, Probe
from infodyn.schedules import every
from infodyn.store import Array, RunStore, Scalar
from infodyn.viz.richness import (
    MAX_CHECKPOINTS,
    _pick_checkpoints,
    plot_richness,
    plot_richness_curves,
)

K = 32


def _write_run(store: RunStore, steps: list[int], *, quality: bool = True) -> None:
    scalars, arrays = [], []
    k = np.arange(1, K + 1)
    for i, step in enumerate(steps):
        sharp = 1.0 + i
        arrays += [
            Array(step, "train", "utilization_cumulative", 1 - np.exp(-k / (8 / sharp)), "fc"),
            Array(step, "train", "relative_norms", np.exp(-k / (4 * sharp)), "fc"),
            Array(step, "test", "utilization_cumulative", np.full(K, 0.5), "fc"),
        ]
        if quality:
            arrays.append(Array(step, "train", "quality_cumulative", 1 - np.exp(-k / 10.0), "fc"))
        scalars += [
            Scalar(step, "train", "d_lr", 0.8 / sharp, "fc"),
            Scalar(step, "train", "num_classes", 10.0, "fc"),
        ]
    store.write(scalars, arrays)


def test_checkpoints_are_few_and_spread_in_log_step() -> None:
    picked = _pick_checkpoints(list(range(0, 10_001, 10)))
    assert len(picked) <= MAX_CHECKPOINTS and picked[0] == 0 and picked[-1] == 10_000
    assert picked[1] < 100  # log spacing reaches early steps
    assert _pick_checkpoints([5, 1, 3]) == [1, 3, 5]


def test_figure_reads_the_train_curves_and_marks_k_equals_c(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        _write_run(store, [0, 10, 100])
        fig, axes = plot_richness(store)
    assert len(axes) == 3
    for ax in axes:
        lines = ax.get_lines()
        assert len(lines) == 4  # k = C line + 3 checkpoints
        assert lines[0].get_xdata()[0] == 10  # the k = C line
    assert axes[2].get_yscale() == "log" and axes[0].get_xscale() == "log"
    # The train split is drawn (the test curves are constant 0.5).
    np.testing.assert_allclose(axes[1].get_lines()[1].get_ydata()[-1], 1 - np.exp(-K / 8))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]  # one legend under the panels
    assert labels[1] == "step 0 — D_LR 0.800"
    assert "layer fc" in fig.get_suptitle()
    fig.savefig(tmp_path / "richness.png")
    assert (tmp_path / "richness.png").stat().st_size > 10_000


def test_legend_names_each_stored_reading(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        _write_run(store, [0, 10])
        store.write([Scalar(0, "train", "d_lr_with_constant", 0.25, "fc")], [])
        fig, _ = plot_richness(store)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[1] == "step 0 — D_LR 0.800, D_LR with constant 0.250"
    assert labels[2] == "step 10 — D_LR 0.400"
    with RunStore(tmp_path / "other.sqlite") as store:
        store.write(
            [Scalar(5, "train", "d_lr_with_constant", 0.125, "fc")],
            [Array(5, "train", "utilization_cumulative", np.linspace(0, 1, K), "fc")],
        )
        fig, _ = plot_richness(store)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "step 5 — D_LR with constant 0.125"
    ]


def test_missing_quality_panel_says_so(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        _write_run(store, [0, 5], quality=False)
        _, axes = plot_richness(store)
    assert "no quality" in axes[0].texts[0].get_text()
    assert len(axes[1].get_lines()) == 3


def test_empty_store_draws_placeholders(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        _, axes = plot_richness(store)
    assert all("no richness" in ax.texts[0].get_text() for ax in axes)


def test_curves_from_memory() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 12, generator=g)
    labels = torch.arange(300) % 3
    results = {
        "with targets": richness(x, x[:, :3], labels),
        "no targets": richness(x, x[:, :3] + x[:, 3:6]),
    }
    _, axes = plot_richness_curves(results, num_classes=3)
    assert [len(ax.get_lines()) for ax in axes] == [2, 3, 3]
    _, axes = plot_richness_curves({"no targets": results["no targets"]})
    assert "no quality" in axes[0].texts[0].get_text()
    other = richness(x, x[:, :3], labels, span="outputs_and_constant")
    fig, _ = plot_richness_curves({"paper": results["with targets"], "with 1": other})
    labels_drawn = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels_drawn[0].startswith("paper — D_LR ")
    assert labels_drawn[1].startswith("with 1 — D_LR with constant ")


def test_monitor_stores_what_the_figure_reads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(120, 6)
    y = torch.randint(0, 3, (120,))
    with RunStore(tmp_path / "run.sqlite") as store:
        monitor = Monitor(model, store, {"richness": Probe(Richness(), every(1))})
        for step in (0, 1):
            monitor.measure(step, "train", [(x[:60], y[:60]), (x[60:], y[60:])])
        monitor.flush()
        _, axes = plot_richness(store)
        d_lr = store.series("d_lr", "train")[1]
        stored = {a.metric for a in store.arrays()}
    assert stored == {"utilization_cumulative", "quality_cumulative", "relative_norms"}
    assert d_lr.shape == (2,) and np.all((d_lr >= 0) & (d_lr <= 1))
    assert all(len(ax.get_lines()) == 3 for ax in axes)


def test_lazy_rich_example_runs_on_a_tiny_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = Path(__file__).resolve().parents[1] / "examples" / "lazy_rich_digits.py"
    argv = [str(script), "--steps", "20", "--width", "16", "--eval-samples", "200"]
    monkeypatch.setattr(sys, "argv", [*argv, "--threads", "1", "--out", str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert "rich (all layers)" in printed and "lazy (last layer)" in printed
    # the example runs the lazy-rich experiment: one run directory per setting, and the figures
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "lazy_rich_digits_test.png",
        "lazy_rich_digits_train.png",
    ]
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 2 and all((r / "run.sqlite").is_file() for r in runs)
