"""The experiment's own part of `infodyn compare`: tables and figures after the generic content.

A throwaway experiment is registered for each test (and removed after it), so the compare
package is exercised exactly as a real experiment would use it, with no experiment's name in
``infodyn.compare``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from infodyn.analysis import power_law_fit
from infodyn.cli import app
from infodyn.compare import build_comparison, experiment_part, load_runs, write_comparison
from infodyn.compare.build import Comparison
from infodyn.experiments import base
from infodyn.experiments.base import Experiment, ExperimentConfig
from infodyn.rundir import RunDir
from infodyn.store import RunStore, Scalar
from infodyn.summary import (
    ComparisonFigure,
    ComparisonSummary,
    ComparisonTable,
    Headline,
    RunSummary,
)

NAME = "extension-demo"
runner = CliRunner()


class DemoConfig(ExperimentConfig):
    experiment: Literal["extension-demo"] = "extension-demo"
    steps: int = 10
    weight_decay: float = 0.1


class Demo(Experiment[DemoConfig, Any]):
    """Headline ``delay`` = 100/λ (+ seed); its comparison fits the exponent and draws a bar."""

    name = NAME
    description = "test double for the comparison extension point"
    config_type = DemoConfig

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def build(self, config: Any, device: Any) -> Any:
        raise NotImplementedError

    def train_step(self, setup: Any, step: int) -> Any:
        raise NotImplementedError

    def probes(self, setup: Any, config: Any) -> Any:
        raise NotImplementedError

    def schedules(self, config: Any) -> Any:
        raise NotImplementedError

    def summarize(self, store: RunStore, config: DemoConfig) -> RunSummary:
        delay = 100 / config.weight_decay + config.seed
        return RunSummary((Headline("delay", "delay (steps)", delay, "{:,.0f}"),))

    def summarize_comparison(self, comparison: Comparison) -> ComparisonSummary:
        if self.fail:
            raise RuntimeError("the demo's comparison broke <b>on purpose</b>")
        runs = comparison.loaded.runs
        lam = np.array([r.config["weight_decay"] for r in runs])
        delay = np.array([r.summary.headline("delay").value for r in runs])  # type: ignore[union-attr]
        fit = power_law_fit(lam, delay)
        assert fit is not None
        fig = Figure()
        fig.subplots().bar(range(len(comparison.groups)), [r.n for r in comparison.groups])
        table = ComparisonTable(
            "scaling",
            "Delay against λ",
            "least squares on log–log",
            ("group", "runs"),
            tuple((r.group.label, str(r.n)) for r in comparison.groups),
            {"slope": fit.slope, "nan_becomes_null": float("nan")},
        )
        # named like a generic figure on purpose: the compare page must keep both
        return ComparisonSummary(
            (table,), (ComparisonFigure("training.png", "runs per group", "bars", fig),)
        )


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    out = []
    for lam in (0.01, 0.1, 1.0):
        for seed in (0, 1):
            run = RunDir.create(
                tmp_path / f"wd{lam}-s{seed}",
                {"experiment": NAME, "seed": seed, "steps": 10, "weight_decay": lam},
            )
            with run.store() as store:
                store.write([Scalar(s, "test", "accuracy", s / 10) for s in (0, 5, 10)])
            out.append(run.root)
    return out


def _register(monkeypatch: pytest.MonkeyPatch, experiment: Demo) -> None:
    monkeypatch.setitem(base._REGISTRY, NAME, experiment)


def test_tables_and_figures_follow_the_generic_content(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list[Path]
) -> None:
    _register(monkeypatch, Demo())
    comparison = build_comparison(load_runs(runs))
    out = write_comparison(comparison, tmp_path / "cmp")
    page = out.page.read_text(encoding="utf-8")
    own = page.index("the experiment's own tables and figures")
    assert page.index("<h2>Final values</h2>") < own < page.index("<h2>Step alignment</h2>")
    assert page.index("Delay against λ") > own
    assert "<th>weight_decay=0.01</th><td class='short'>2</td>" in page
    assert "alt='runs per group'" in page
    # generic + own + the timeline of transitions
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 3
    assert [p.name for p in out.figures] == ["training.png", "training-2.png", "timeline.png"]
    record = json.loads(out.record.read_text(encoding="utf-8"))
    scaling = record["tables"]["scaling"]
    lam = np.repeat([0.01, 0.1, 1.0], 2)
    delay = 100 / lam + np.tile([0, 1], 3)  # the demo's headline of each run
    assert scaling["slope"] == pytest.approx(np.polyfit(np.log(lam), np.log(delay), 1)[0])
    assert scaling["nan_becomes_null"] is None
    assert scaling["columns"] == ["group", "runs"]
    assert scaling["rows"][0] == ["weight_decay=0.01", "2"]
    assert record["experiment_figures"] == ["figures/training-2.png"]
    assert record["experiment_error"] is None


def test_a_failing_experiment_part_costs_only_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list[Path]
) -> None:
    _register(monkeypatch, Demo(fail=True))
    comparison = build_comparison(load_runs(runs))
    with pytest.warns(UserWarning, match="its own comparison tables and figures failed"):
        out = write_comparison(comparison, tmp_path / "cmp")
    page = out.page.read_text(encoding="utf-8")
    assert "<h2>Figures</h2>" in page and "training.png" not in page  # generic part intact
    assert "RuntimeError: the demo&#x27;s comparison broke &lt;b&gt;on purpose&lt;/b&gt;" in page
    record = json.loads(out.record.read_text(encoding="utf-8"))
    assert record["experiment_error"].startswith("RuntimeError: the demo's comparison broke")
    assert record["tables"] == {} and record["experiment_figures"] == []


def test_unknown_experiments_add_nothing(tmp_path: Path, runs: list[Path]) -> None:
    # NAME is not registered here: the runs load with empty summaries.
    comparison = build_comparison(load_runs(runs))
    part = experiment_part(comparison)
    assert part.summary.tables == () and part.error is None
    page = write_comparison(comparison, tmp_path / "cmp").page.read_text(encoding="utf-8")
    assert "own tables and figures" not in page


def test_cli_prints_the_experiments_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list[Path]
) -> None:
    _register(monkeypatch, Demo())
    result = runner.invoke(
        app, ["compare", *map(str, runs), "--out", str(tmp_path / "cmp")], terminal_width=160
    )
    assert result.exit_code == 0, result.output
    assert "Delay against λ" in result.output
    assert "least squares on log–log" in result.output


def test_a_table_row_must_fill_every_column() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells but there are 2 columns"):
        ComparisonTable("t", "T", "", ("a", "b"), (("only",),))
