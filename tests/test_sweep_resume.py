"""Kill a local sweep (its driver, or one worker) with SIGKILL mid-way; re-running resumes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infodyn.checkpoint import list_checkpoints
from infodyn.cli import app
from infodyn.rundir import RunDir
from sweep_helpers import manifest_runs, records

runner = CliRunner()
SHORT, LONG = "steps=30_seed=0", "steps=1500_seed=0"
#: Tiny grokking with steps swept: a 30-step run, then a 1500-step one checkpointing every 100.
SETS = [
    "--set", "data.modulus=11",
    "--set", "model.embed_dim=8",
    "--set", "model.hidden_dim=32",
    "--set", "monitor.points=4",
    "--set", "monitor.eval_samples=32",
    "--set", "monitor.eval_batch=32",
    "--set", "monitor.checkpoint_every=100",
]  # fmt: skip
ARGS = [*SETS, "--workers", "1", "--threads", "1", "--quiet"]


def _start(out: Path, grid: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "infodyn.cli", "sweep", "grokking", "--grid", grid, *ARGS]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*cmd, "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert child.poll() is None, child.communicate()[0].decode()
        assert time.monotonic() < deadline, "the sweep never got there"
        time.sleep(0.02)


def _short_done_and_long_checkpointed(out: Path) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            state = manifest_runs(out)[SHORT]["state"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False
        return state == "finished" and max(_checkpoint_steps(out / LONG), default=0) >= 100

    return ready


def _checkpoint_steps(run_dir: Path) -> list[int]:
    return [step for step, _ in list_checkpoints(RunDir(run_dir))] if run_dir.is_dir() else []


def _pool_worker(driver: int) -> int:
    """The pid of the driver's process-pool worker (not its resource tracker)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == driver and b"spawn_main" in cmdline:
            return int(entry.name)
    raise AssertionError(f"no pool worker under pid {driver}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    """The records of the 1500-step run made in one go by ``infodyn run``."""
    out = tmp_path_factory.mktemp("reference")
    result = runner.invoke(
        app,
        ["run", "grokking", *SETS, "--set", "steps=1500", "--set", "threads=1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return records(run_dir)


def _assert_resumed_like(run_dir: Path, want: list[tuple[object, ...]]) -> None:
    got = records(run_dir)
    assert [r[:4] for r in got] == [r[:4] for r in want]  # nothing lost, nothing twice
    assert [r[4] for r in got] == pytest.approx([r[4] for r in want], rel=1e-5, abs=1e-6)


def _stopped(run_dir: Path) -> list[int]:
    """The checkpoint steps once they stop changing (whatever wrote them has exited)."""
    steps = _checkpoint_steps(run_dir)
    while True:
        time.sleep(0.5)
        again = _checkpoint_steps(run_dir)
        if again == steps:
            return steps
        steps = again


def test_killed_driver_then_rerun_skips_finished_and_resumes_the_rest(
    tmp_path: Path, uninterrupted: list[tuple[object, ...]]
) -> None:
    out = tmp_path / "sweep"
    child = _start(out, "steps=30,1500")
    _wait_for(_short_done_and_long_checkpointed(out), child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    # Its worker exits with it instead of writing on as an orphan.
    steps_at_kill = _stopped(out / LONG)
    assert steps_at_kill and steps_at_kill[-1] < 1500
    assert not RunDir(out / LONG).report_path.exists()
    assert manifest_runs(out)[LONG]["state"] in ("pending", "running")  # as the driver saw it
    short_store = out / SHORT / "run.sqlite"
    short_before = (short_store.stat().st_mtime_ns, short_store.read_bytes())

    result = runner.invoke(
        app, ["sweep", "grokking", "--grid", "steps=30,1500", *ARGS, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    runs = manifest_runs(out)
    assert runs[SHORT]["state"] == runs[LONG]["state"] == "finished"
    assert (short_store.stat().st_mtime_ns, short_store.read_bytes()) == short_before
    assert runs[SHORT]["resumed_from"] is None
    assert runs[LONG]["resumed_from"] == steps_at_kill[-1] >= 100  # not restarted from 0
    _assert_resumed_like(out / LONG, uninterrupted)


def test_killed_worker_fails_its_run_only_and_a_rerun_resumes_it(
    tmp_path: Path, uninterrupted: list[tuple[object, ...]]
) -> None:
    out = tmp_path / "sweep"
    child = _start(out, "steps=30,1500,31")
    _wait_for(_short_done_and_long_checkpointed(out), child)
    os.kill(_pool_worker(child.pid), signal.SIGKILL)
    output = child.communicate(timeout=120)[0].decode()
    assert child.returncode == 1, output
    flat = " ".join(output.split())
    assert "runs: 2 finished, 1 failed" in flat
    runs = manifest_runs(out)
    assert runs[LONG]["state"] == "failed"
    assert runs[LONG]["error"].startswith("WorkerDied: a worker process of the pool died")
    # The run that had not started yet went to a fresh pool and finished.
    assert runs["steps=31_seed=0"]["state"] == runs[SHORT]["state"] == "finished"
    steps_at_kill = _checkpoint_steps(out / LONG)

    result = runner.invoke(
        app, ["sweep", "grokking", "--grid", "steps=30,1500,31", *ARGS, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    runs = manifest_runs(out)
    assert runs[LONG]["state"] == "finished" and runs[LONG]["error"] is None
    assert runs[LONG]["resumed_from"] == steps_at_kill[-1] >= 100
    _assert_resumed_like(out / LONG, uninterrupted)
