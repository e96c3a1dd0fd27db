"""The command line end to end on a tiny grokking config (seconds), and kill/resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.rundir import RunDir

TINY = [
    "--set", "steps=60",
    "--set", "data.modulus=11",
    "--set", "model.embed_dim=8",
    "--set", "model.hidden_dim=32",
    "--set", "monitor.points=8",
    "--set", "monitor.eval_samples=40",
    "--set", "monitor.eval_batch=20",
    "--set", "monitor.log_every=5",
    "--set", "monitor.checkpoint_every=10",
    "--set", "threads=1",
]  # fmt: skip

runner = CliRunner()


def _only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def _records(run_dir: Path) -> list[tuple]:
    with RunDir.open(run_dir).store(readonly=True) as store:
        return [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["run", "grokking", *TINY, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return _only_run(out)


def test_run_writes_store_figures_and_report(tiny_run: Path) -> None:
    run = RunDir.open(tiny_run)
    assert run.config()["steps"] == 60
    assert (run.figures_dir / "training.png").stat().st_size > 5_000
    assert (run.figures_dir / "matrix_information.png").stat().st_size > 5_000
    assert (run.figures_dir / "richness.png").stat().st_size > 5_000
    assert "data:image/png;base64," in run.report_path.read_text()
    with run.store(readonly=True) as store:
        keys = {(m, s) for m, s, _ in store.keys()}
        for metric in (
            "loss",
            "accuracy",
            "mir",
            "hdr",
            "entropy_features",
            "entropy_head",
            "d_lr",
        ):
            assert {(metric, "train"), (metric, "test")} <= keys
        steps, mir = store.series("mir", "test")
        assert steps[0] == 0 and steps[-1] == 60 and ((mir >= 0) & (mir <= 1)).all()
        _, d_lr = store.series("d_lr", "train")
        assert ((d_lr >= 0) & (d_lr <= 1)).all()


def test_export_csv_and_json(tiny_run: Path) -> None:
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["step", "split", "metric", "layer", "value", "mode"]
    stored = _records(tiny_run)
    assert len(rows) - 1 == len(stored)
    assert {r[3] for r in rows[1:]} == {"", "head:input"}
    as_json = json.loads(runner.invoke(app, ["export", str(tiny_run), "--format", "json"]).stdout)
    assert len(as_json) == len(stored)
    assert any(r["layer"] is None for r in as_json)


def test_plot_report_and_list(tiny_run: Path) -> None:
    (tiny_run / "figures" / "training.png").unlink()
    assert runner.invoke(app, ["plot", str(tiny_run)]).exit_code == 0
    assert (tiny_run / "figures" / "training.png").exists()
    assert runner.invoke(app, ["report", str(tiny_run)]).exit_code == 0
    # a wide console: at Rich's default 80 columns (no terminal, as in CI) the headlines fold
    listing = runner.invoke(app, ["list", str(tiny_run.parent)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and tiny_run.name in listing.stdout
    assert "train acc" in listing.stdout  # the experiment's headlines


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["run", "grokking", "--set", "optim.learnrate=1"], "unknown config key"),
        (["run", "nonsense"], "unknown experiment 'nonsense'"),
        (["plot", "."], "is not an infodyn run directory"),
        (["export", "/nonexistent/run"], "is not an infodyn run directory"),
        (["list", "/nonexistent/runs"], "is not a directory"),
    ],
)
def test_bad_cli_input_is_a_clear_error(args: list[str], match: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path)] if args[0] == "run" else args)
    assert result.exit_code == 2
    assert match in " ".join(result.output.split())


def test_out_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    result = runner.invoke(app, ["run", "grokking", "--out", str(target)])
    assert result.exit_code == 2
    assert "is a file; pass a folder" in " ".join(result.output.split())


def test_killed_run_resumes_without_duplicates_or_gaps(tiny_run: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run, then --resume: the records equal those of an uninterrupted run."""
    out = tmp_path / "runs"
    slow = [*TINY, "--set", "steps=1000"]
    cmd = [
        sys.executable,
        "-m",
        "infodyn.cli",
        "run",
        "grokking",
        *slow,
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        checkpoints = list(out.glob("*/checkpoints/step-*.pt")) if out.exists() else []
        if len(checkpoints) >= 2:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    run_dir = _only_run(out)
    assert not (run_dir / "report.html").exists(), "the child finished before it was killed"
    assert RunDir.open(run_dir).store(readonly=True).last_step() is not None  # readable after kill

    resumed = runner.invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
    assert resumed.exit_code == 0, resumed.output

    reference = runner.invoke(
        app, ["run", "grokking", *slow, "--out", str(tmp_path / "ref"), "--quiet"]
    )
    assert reference.exit_code == 0
    got, want = _records(run_dir), _records(_only_run(tmp_path / "ref"))
    assert [r[:4] for r in got] == [r[:4] for r in want]  # same keys: nothing lost, nothing twice
    assert [r[4] for r in got] == pytest.approx([r[4] for r in want], rel=1e-5, abs=1e-6)
