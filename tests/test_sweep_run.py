"""``infodyn sweep`` end to end on tiny grokking runs: local process pool, then Ray."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.rundir import RunDir
from infodyn.sweep import MANIFEST_NAME, save_manifest
from infodyn.sweep.archive import SNAPSHOT_SUFFIX, apply_snapshot
from infodyn.sweep.plan import open_sweep, plan_sweep
from infodyn.sweep.tasks import RunSnapshot, SweepEvent
from infodyn.sweep.worker import ERROR_NAME, Reporter, execute_run
from sweep_helpers import GRID_2X2, TINY, array_records, manifest_runs, meta, records

runner = CliRunner()
NAMES = [
    "weight_decay=0.1_seed=0",
    "weight_decay=0.1_seed=1",
    "weight_decay=1.0_seed=0",
    "weight_decay=1.0_seed=1",
]
LOCAL = ["--workers", "2", "--threads", "1", "--quiet"]

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="ray is not installed (pip install 'infodyn[ray]'; CI gets it through the dev extra)",
)


def _sweep(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sweep", "grokking", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweeps") / "local"
    code, output = _sweep(*GRID_2X2, *TINY, *LOCAL, "--out", str(out))
    assert code == 0, output
    assert "runs: 4 finished, 0 failed" in output
    return out


def test_every_run_finishes_in_its_own_directory(local_sweep: Path) -> None:
    runs = manifest_runs(local_sweep)
    assert list(runs) == NAMES
    assert sorted(p.name for p in local_sweep.iterdir() if not p.name.startswith(".")) == sorted(
        [*NAMES, MANIFEST_NAME]
    )
    for name, run in runs.items():
        assert (run["state"], run["error"], run["resumed_from"]) == ("finished", None, None)
        run_dir = RunDir.open(local_sweep / name)
        config = run_dir.config()
        assert config["seed"] == run["seed"] == int(name[-1])
        assert config["optim"]["weight_decay"] == run["point"]["optim.weight_decay"]
        assert config["threads"] == 1 and config["steps"] == 30
        assert run_dir.report_path.is_file() and not (run_dir.root / ERROR_NAME).exists()
        assert meta(run_dir.root)["steps_completed"] == 30
    assert not list(local_sweep.glob(f"*{SNAPSHOT_SUFFIX}"))


@pytest.mark.parametrize("name", [NAMES[0], NAMES[3]])
def test_a_sweep_run_records_what_the_run_alone_records(
    local_sweep: Path, name: str, tmp_path: Path
) -> None:
    run = manifest_runs(local_sweep)[name]
    alone = runner.invoke(
        app,
        [
            "run", "grokking", *TINY, "--set", "threads=1",
            "--set", f"optim.weight_decay={run['point']['optim.weight_decay']}",
            "--seed", str(run["seed"]), "--out", str(tmp_path), "--quiet",
        ],
    )  # fmt: skip
    assert alone.exit_code == 0, alone.output
    (reference,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert records(local_sweep / name) == records(reference)
    assert array_records(local_sweep / name) == array_records(reference)


def test_rerun_skips_finished_runs_untouched(local_sweep: Path) -> None:
    stores = {name: local_sweep / name / "run.sqlite" for name in NAMES}
    before = {name: (p.stat().st_mtime_ns, p.read_bytes()) for name, p in stores.items()}
    manifest = (local_sweep / MANIFEST_NAME).read_text()
    code, output = _sweep(*GRID_2X2, *TINY, *LOCAL, "--out", str(local_sweep))
    assert code == 0 and "runs: 4 finished, 0 failed" in output
    assert {name: (p.stat().st_mtime_ns, p.read_bytes()) for name, p in stores.items()} == before
    assert (local_sweep / MANIFEST_NAME).read_text() == manifest


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["--grid", "data.train_fraction=0.001,0.4", *TINY, *LOCAL, "--out", str(out)]
    code, output = _sweep(*args)
    flat = " ".join(output.split())
    assert code == 1
    assert "runs: 1 finished, 1 failed" in flat
    assert "error: 1 of 2 runs failed; re-run the same command to retry them" in flat
    message = "ValueError: train_fraction=0.001 leaves 0 training and 121 test pairs"
    assert f"failed: train_fraction=0.001_seed=0: {message}" in flat
    runs = manifest_runs(out)
    good, bad = runs["train_fraction=0.4_seed=0"], runs["train_fraction=0.001_seed=0"]
    assert good["state"] == "finished" and good["error"] is None
    assert RunDir.open(out / good["name"]).report_path.is_file()
    assert bad["state"] == "failed" and bad["error"].startswith(message)
    error_txt = (out / bad["name"] / ERROR_NAME).read_text()
    assert error_txt.startswith(message) and "Traceback" in error_txt
    # A re-run retries the failed run (it fails again here) and leaves the finished one be.
    good_store = out / good["name"] / "run.sqlite"
    before = good_store.stat().st_mtime_ns
    code, output = _sweep(*args)
    assert code == 1 and "runs: 1 finished, 1 failed" in " ".join(output.split())
    assert good_store.stat().st_mtime_ns == before


# -- Ray ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance with 2 CPUs for this module; the backend uses it as it is."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


@needs_ray
def test_ray_sweep_records_what_the_local_sweep_records(
    local_sweep: Path, local_ray: None, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    code, output = _sweep(*GRID_2X2, *TINY, "--backend", "ray", "--quiet", "--out", str(out))
    assert code == 0, output
    runs = manifest_runs(out)
    assert list(runs) == NAMES and {r["state"] for r in runs.values()} == {"finished"}
    for name in NAMES:
        assert RunDir.open(out / name).report_path.is_file()
        assert records(out / name) == records(local_sweep / name)
        assert array_records(out / name) == array_records(local_sweep / name)
    # Everything came back through snapshots: no leftovers of an install in the folder.
    assert sorted(p.name for p in out.iterdir()) == sorted([".sweep.lock", MANIFEST_NAME, *NAMES])


@needs_ray
def test_ray_sweep_resumes_from_the_snapshots_a_killed_driver_left(
    local_ray: None, tmp_path: Path
) -> None:
    """Seed 0 had its step-10 snapshot installed, seed 1 its step-20 tar only written."""
    overrides = [item for item in TINY if item != "--set"]
    planned = plan_sweep("grokking", seeds=2, overrides=overrides)
    out = tmp_path / "sweep"
    manifest = open_sweep(out, planned)
    uninterrupted = {}
    for run, step in zip(manifest.runs, (10, 20), strict=True):
        events: list[SweepEvent] = []
        reporter = Reporter(run.name, events.append, ship_checkpoints=True)
        assert execute_run(run.name, tmp_path / run.name, run.config, 1, reporter).state == (
            "finished"
        )
        uninterrupted[run.name] = records(tmp_path / run.name)
        (snapshot,) = [e for e in events if isinstance(e, RunSnapshot) and e.step == step]
        if step == 10:
            apply_snapshot(out, run.name, snapshot.archive)
        else:
            (out / f"{run.name}{SNAPSHOT_SUFFIX}").write_bytes(snapshot.archive)
        run.state = "running"
    save_manifest(out, manifest)

    code, output = _sweep("--seeds", "2", *TINY, "--backend", "ray", "--quiet", "--out", str(out))
    assert code == 0, output
    runs = manifest_runs(out)
    assert [(r["state"], r["resumed_from"]) for r in runs.values()] == [
        ("finished", 10),
        ("finished", 20),
    ]
    for name, want in uninterrupted.items():
        got = records(out / name)
        assert [r[:4] for r in got] == [r[:4] for r in want]  # nothing lost, nothing twice
        assert [r[4] for r in got] == pytest.approx([r[4] for r in want], rel=1e-5, abs=1e-6)
    assert not list(out.glob(f"*{SNAPSHOT_SUFFIX}"))
