"""``infodyn explain`` on a tiny real grokking run and on a synthetic sweep; the report sections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.explain import ROW_KEYS, explain_paths
from infodyn.report import write_report
from infodyn.rundir import RunDir
from infodyn.store import Scalar
from infodyn.sweep import SweepManifest, SweepRun, save_manifest
from infodyn.viz.timeline import plot_timeline
from test_cli import TINY

runner = CliRunner()
REF = ("accuracy", "test", "")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["run", "grokking", *TINY, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_explain_tiny_run_table_and_json(tiny_run: Path, tmp_path: Path) -> None:
    table = runner.invoke(app, ["explain", str(tiny_run)])
    assert table.exit_code == 0, table.output
    assert "what moves first" in table.output and "accuracy (test)" in table.output
    assert (tiny_run / "figures" / "timeline.png").read_bytes().startswith(b"\x89PNG")
    result = runner.invoke(
        app, ["explain", str(tiny_run), "--format", "json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["reference"]["metric"] == "accuracy" and record["reference"]["split"] == "test"
    (group,) = record["groups"]
    assert group["rows"] and all(tuple(row) == ROW_KEYS for row in group["rows"])
    keys = {(r["metric"], r["split"], r["layer"]) for r in group["rows"]}
    assert {("accuracy", "train", ""), ("loss", "test", "")} <= keys
    assert all(r["seeds"]["n"] == 1 for r in group["rows"])
    assert record["figure"] == str(tmp_path / "timeline.png")
    fit = runner.invoke(app, ["explain", str(tiny_run), "--reference", "train:accuracy"])
    assert fit.exit_code == 0, fit.output


def test_explain_refuses_bad_input(tiny_run: Path, tmp_path: Path) -> None:
    bad = runner.invoke(app, ["explain", str(tiny_run), "--reference", "test:nope"])
    assert bad.exit_code == 2 and "no such series" in bad.output
    missing = runner.invoke(app, ["explain", str(tmp_path / "absent")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def _sigmoid(steps: np.ndarray, centre: float) -> np.ndarray:
    return 0.01 + 0.99 / (1 + np.exp(-8 * (np.log10(1 + steps) - centre)))  # from chance


def _sweep(root: Path) -> Path:
    """Two weight decays × 3 seeds: 'early' halfway 0.5 decade before test accuracy (which is
    halfway at 10^(3 - wd)), 'late' 0.2 decade after it except in seed 2."""
    root.mkdir()
    steps = np.unique(np.geomspace(1, 20_000, 100).astype(np.int64))
    runs = []
    for wd in (0.0, 0.5):
        for seed in range(3):
            name = f"wd{wd}-s{seed}"
            config = {"experiment": "grokking", "seed": seed, "optim": {"weight_decay": wd}}
            run = RunDir.create(root / name, config)
            centre = 3.0 - wd + 0.05 * seed
            late = centre + (0.2 if seed < 2 else -0.2)
            series = {
                "accuracy": _sigmoid(steps, centre),
                "early": _sigmoid(steps, centre - 0.5),
                "late": 1.01 - _sigmoid(steps, late),
                "flat": np.full(steps.size, 3.0),
            }
            with run.store() as store:
                store.write(
                    [Scalar(int(s), "test", m, float(v[i])) for m, v in series.items()
                     for i, s in enumerate(steps)]
                )  # fmt: skip
            point = {"optim.weight_decay": wd}
            runs.append(
                SweepRun(name=name, point=point, seed=seed, config=config, state="finished")
            )
    manifest = SweepManifest(
        experiment="grokking", grid={"optim.weight_decay": [0.0, 0.5]}, seeds=[0, 1, 2], runs=runs
    )
    save_manifest(root, manifest)
    return root


def test_explain_sweep_groups_seeds_by_grid_point(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sw")
    explanation = explain_paths([sweep])
    assert [g.label for g in explanation.groups] == ["weight_decay=0.0", "weight_decay=0.5"]
    for group in explanation.groups:
        names = [r.key[0] for r in group.rows]
        assert names == ["early", "accuracy", "late", "flat"]
        early, _, late, flat = group.rows
        assert (early.n, early.paired, early.leading) == (3, 3, 3)
        assert early.lead_ratio == pytest.approx(10**0.5, rel=0.05)
        assert late.leading == 1 and late.direction == "fall" and flat.found == 0
    result = runner.invoke(
        app, ["explain", str(sweep), "--format", "json", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    row = record["groups"][1]["rows"][0]
    assert tuple(row) == ROW_KEYS and row["metric"] == "early" and row["direction"] == "rise"
    assert row["seeds"]["n"] == 3 and row["seeds"]["leading"] == 3
    assert row["lead_steps"] == pytest.approx(
        np.mean([10 ** (2.5 + 0.05 * s) - 10 ** (2.0 + 0.05 * s) for s in range(3)]), rel=0.05
    )
    table = runner.invoke(app, ["explain", str(sweep), "--out", str(tmp_path / "o")])
    assert "weight_decay=0.5 — 3 seeds" in table.output and "3/3" in table.output
    assert (tmp_path / "o" / "timeline.png").is_file()


def test_timeline_draws_a_bar_per_transition_and_marks_the_reference(tmp_path: Path) -> None:
    explanation = explain_paths([_sweep(tmp_path / "sw")])
    _, axes = plot_timeline([(g.label, g.rows) for g in explanation.groups])
    assert axes.shape == (2,)
    for ax in axes:
        assert len(ax.patches) >= 3  # one bar per series with a transition (flat has none)
        assert sorted(t.get_text() for t in ax.get_yticklabels()) == [
            "accuracy (test)",
            "early (test)",
            "late (test)",
        ]
    with pytest.raises(ValueError, match="at least one group"):
        plot_timeline([])


def test_run_report_has_the_what_moves_first_section(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sw")
    run = RunDir.open(sweep / "wd0.0-s0")
    page = write_report(run).read_text(encoding="utf-8")
    section = page[page.index("What moves first") :]
    assert "First mover: early (test) halfway" in section
    assert "no transition" in section and "alt='timeline of transitions'" in section
    assert page.index("<h2>Figures</h2>") < page.index("What moves first") < page.index("Config")
