"""Sweep pieces without a process pool: manifest, naming, grid, bad input, snapshots, worker."""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.config import ConfigError
from infodyn.experiments.grokking import GrokkingConfig
from infodyn.rundir import RunDir
from infodyn.store import Scalar
from infodyn.sweep import (
    MANIFEST_NAME,
    SweepManifest,
    SweepRun,
    load_manifest,
    parse_grid,
    run_name,
    run_names,
    save_manifest,
)
from infodyn.sweep.archive import SNAPSHOT_SUFFIX, apply_snapshot, pack_run, recover_snapshots
from infodyn.sweep.plan import check_parallelism, open_sweep, plan_sweep
from infodyn.sweep.tasks import RunOutcome, RunSnapshot, RunStarted, RunStepped, SweepEvent
from infodyn.sweep.worker import ERROR_NAME, Reporter, execute_run
from sweep_helpers import TINY, records

runner = CliRunner()
OVERRIDES = [item for item in TINY if item != "--set"]


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sweep", *args])
    return result.exit_code, " ".join(result.output.split())


# -- manifest ---------------------------------------------------------------------------------


def test_manifest_round_trip(tmp_path: Path) -> None:
    planned = plan_sweep(
        "grokking", ["optim.weight_decay=0.1,1.0"], seeds=2, seed_start=3, overrides=OVERRIDES
    )
    planned.runs[1].state, planned.runs[1].resumed_from = "failed", 10
    planned.runs[1].error = "ValueError: boom"
    path = save_manifest(tmp_path, planned)
    assert path == tmp_path / MANIFEST_NAME
    assert json.loads(path.read_text())["format"] == "infodyn-sweep-v1"
    loaded = load_manifest(tmp_path)
    assert loaded == planned
    assert loaded.seeds == [3, 4]
    assert [r.seed for r in loaded.runs] == [3, 4, 3, 4]
    assert loaded.runs[2].config["optim"]["weight_decay"] == 1.0
    assert loaded.runs[2].config["threads"] == 1


def test_manifest_without_resumed_from_still_loads(tmp_path: Path) -> None:
    """``resumed_from`` was added by the sweep command; manifests written before read as None."""
    data = plan_sweep("grokking", overrides=OVERRIDES).model_dump(mode="json")
    del data["runs"][0]["resumed_from"]
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(data))
    assert load_manifest(tmp_path).runs[0].resumed_from is None


def test_manifest_refuses_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an infodyn sweep directory"):
        load_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"format": "infodyn-sweep-v1", "bogus": 1}')
    with pytest.raises(ValueError, match="is not an infodyn sweep manifest"):
        load_manifest(tmp_path)


def test_differences_name_each_field() -> None:
    a = plan_sweep("grokking", ["optim.lr=0.1,0.2"], overrides=["steps=5"])
    b = plan_sweep("grokking", ["optim.lr=0.1,0.3"], seeds=2, overrides=["steps=6"])
    assert a.differences(b) == [
        "grid: {'optim.lr': [0.1, 0.2]} vs {'optim.lr': [0.1, 0.3]}",
        "seeds: [0] vs [0, 1]",
        "overrides: ['steps=5'] vs ['steps=6']",
    ]
    reordered = plan_sweep("grokking", ["steps=1,2", "optim.lr=0.1"])
    other_order = plan_sweep("grokking", ["optim.lr=0.1", "steps=1,2"])
    assert reordered.differences(other_order)  # key order orders the runs and their names
    assert a.same_request(a.model_copy(update={"overrides": ["steps=5"]}))


# -- naming and grid --------------------------------------------------------------------------


def test_run_names_are_readable_deterministic_sanitised_unique() -> None:
    point = {"optim.weight_decay": 0.1, "monitor.mode": "batch_mean", "steps": 30}
    assert run_name(point, 0) == "weight_decay=0.1_mode=batch_mean_steps=30_seed=0"
    assert run_name(point, 0) == run_name(dict(point), 0)
    assert run_name({"x": "a b/c:d"}, 1) == "x=a-b-c-d_seed=1"
    assert run_name({"x": True, "y": None, "z": 1e-4}, 2) == "x=true_y=null_z=0.0001_seed=2"
    assert run_name({"x": [1, 2]}, 0) == "x=-1-2-_seed=0"
    assert len(run_name({"x": "v" * 500}, 0)) == 120
    # Collisions (after sanitising, or after cutting) fall back to an index prefix for all.
    assert run_names([({"x": "a/b"}, 0), ({"x": "a:b"}, 0), ({"x": "c"}, 0)]) == [
        "0_x=a-b_seed=0",
        "1_x=a-b_seed=0",
        "2_x=c_seed=0",
    ]
    long = [({"x": "v" * 200 + str(i)}, 0) for i in range(11)]
    names = run_names(long)
    assert len(set(names)) == 11 and names[0].startswith("00_") and names[10].startswith("10_")


def test_plan_names_runs_grid_major_with_parsed_values() -> None:
    m = plan_sweep("grokking", ["optim.weight_decay=0.1,1", "monitor.mode=pooled"], seeds=2)
    assert [r.name for r in m.runs] == [
        "weight_decay=0.1_mode=pooled_seed=0",
        "weight_decay=0.1_mode=pooled_seed=1",
        "weight_decay=1_mode=pooled_seed=0",
        "weight_decay=1_mode=pooled_seed=1",
    ]
    assert m.grid == {"optim.weight_decay": [0.1, 1], "monitor.mode": ["pooled"]}
    assert isinstance(m.runs[0].point["optim.weight_decay"], float)
    assert m.runs[3].config["seed"] == 1 and m.runs[3].config["monitor"]["mode"] == "pooled"
    assert [r.name for r in plan_sweep("grokking", seeds=2).runs] == ["seed=0", "seed=1"]


def test_parse_grid_types_and_order() -> None:
    grid = parse_grid(GrokkingConfig, ["steps=5,10", "optim.lr=1e-3, 3e-3", "monitor.mode=pooled"])
    assert list(grid) == ["steps", "optim.lr", "monitor.mode"]
    assert grid["steps"] == [5, 10] and all(isinstance(v, int) for v in grid["steps"])
    assert grid["optim.lr"] == [1e-3, 3e-3]
    with pytest.raises(ConfigError, match=r"value '1\.0' is repeated"):
        parse_grid(GrokkingConfig, ["optim.lr=1,1.0"])


def test_check_parallelism() -> None:
    assert check_parallelism(None, 1, 2) == 2
    assert check_parallelism(None, 4, 2, allow_oversubscribe=True) == 1
    assert check_parallelism(3, 1, 2, allow_oversubscribe=True) == 3
    with pytest.raises(ConfigError, match=r"--workers 1 × --threads 4 = 4 threads on 2 cores"):
        check_parallelism(None, 4, 2)


# -- bad input: each a clear error naming the argument, exit code 2, nothing written ----------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ["--grid", "optim.nope=1,2"],
            "--grid optim.nope: unknown config key for GrokkingConfig; valid keys: experiment,",
        ),
        (["--grid", "optim.lr="], "--grid 'optim.lr=': value 1 is empty"),
        (["--grid", "optim.lr=1,,2"], "--grid 'optim.lr=1,,2': value 2 is empty"),
        (["--grid", "optim.lr"], "--grid expects KEY=V1,V2,…, got 'optim.lr'"),
        (["--grid", "=1,2"], "--grid expects KEY=V1,V2,…, got '=1,2'"),
        (
            ["--grid", "optim.lr=1", "--grid", "optim.lr=2"],
            "--grid optim.lr is given twice; put all its values in one --grid optim.lr=V1,V2,…",
        ),
        (["--grid", "optim.lr=1", "--set", "optim.lr=2"], "optim.lr is given both by --grid"),
        (["--grid", "seed=1,2"], "--grid seed: not allowed, seeds come from --seeds N"),
        (["--set", "threads=2"], "--set threads: not allowed in a sweep, every run's thread"),
        (["--set", "optim.nope=1"], "--set optim.nope: unknown config key for GrokkingConfig"),
        (["--grid", "data.modulus=1,11"], "grid point {'data.modulus': 1}: invalid GrokkingConfig"),
        (["--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["--seed-start", "-1"], "--seed-start must be >= 0, got -1"),
        (["--workers", "0"], "--workers must be >= 1, got 0"),
        (["--threads", "0"], "--threads must be >= 1, got 0"),
        (["--workers", "3"], "--workers 3 × --threads 1 = 3 threads on 2 cores would"),
        (
            ["--ray-address", "auto"],
            "--ray-address joins a Ray cluster; pass it with --backend ray",
        ),
    ],
)
def test_bad_input_is_a_clear_error(
    args: list[str], match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    out = tmp_path / "sweep"
    code, output = _invoke("grokking", *args, "--out", str(out))
    assert code == 2, output
    assert f"error: {match}" in output or match in output
    assert not out.exists()


def test_unknown_experiment(tmp_path: Path) -> None:
    code, output = _invoke("nonsense", "--out", str(tmp_path / "s"))
    assert code == 2 and "unknown experiment 'nonsense'; available: grokking" in output


def test_out_that_is_a_file_or_a_foreign_folder(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    code, output = _invoke("grokking", "--out", str(target))
    assert code == 2 and f"--out {target} is a file; pass a folder for the sweep" in output
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    code, output = _invoke("grokking", "--out", str(tmp_path / "other"))
    assert code == 2 and "is a non-empty folder without sweep.json" in output


def test_folder_of_another_command_is_refused(tmp_path: Path) -> None:
    first = plan_sweep("grokking", ["optim.lr=0.1,0.2"], overrides=["steps=5"])
    open_sweep(tmp_path, first)
    before = (tmp_path / MANIFEST_NAME).read_text()
    code, output = _invoke(
        "grokking", "--grid", "optim.lr=0.1,0.2", "--seeds", "2", "--set", "steps=5",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 2
    assert "holds a sweep asked for by another command (seeds: [0] vs [0, 1], folder vs now)" in (
        output
    )
    assert (tmp_path / MANIFEST_NAME).read_text() == before
    assert open_sweep(tmp_path, first) == first  # the same command is welcome


def test_ray_backend_without_ray_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    code, output = _invoke("grokking", "--backend", "ray", "--out", str(tmp_path / "s"))
    assert code == 2 and "--backend ray needs Ray" in output
    assert "pip install 'infodyn[ray]'" in output


# -- snapshots --------------------------------------------------------------------------------


def test_snapshot_copies_a_store_that_is_open_for_writing(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "live", {"experiment": "grokking"})
    (run.checkpoints_dir / "step-00000010.pt").write_bytes(b"ckpt")
    (run.checkpoints_dir / ".step-00000020.pt.abc.tmp").write_bytes(b"half")
    store = run.store()  # open, in WAL mode, with the writes still only in the -wal file
    store.write([Scalar(10, "train", "loss", 1.5)])
    store.set_meta("steps_completed", 10)
    data = pack_run(run.root)
    store.close()
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tar:
        names = set(tar.getnames())
    assert {"config.json", "run.sqlite", "checkpoints/step-00000010.pt"} <= names
    assert not any(n.endswith(".tmp") or n.startswith("run.sqlite-") for n in names)

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    apply_snapshot(sweep, "r", data)
    assert records(sweep / "r") == [(10, "train", "loss", "", 1.5)]
    assert RunDir.open(sweep / "r").store(readonly=True).get_meta("steps_completed") == 10
    assert sorted(p.name for p in sweep.iterdir()) == ["r"]


def test_a_snapshot_left_half_installed_is_installed_on_recovery(tmp_path: Path) -> None:
    old = RunDir.create(tmp_path / "r", {"v": "old"})
    new = RunDir.create(tmp_path / "elsewhere" / "r", {"v": "new"})
    # A driver killed after writing the tar and moving the old directory aside:
    (tmp_path / f"r{SNAPSHOT_SUFFIX}").write_bytes(pack_run(new.root))
    os.replace(old.root, tmp_path / ".r.replaced")
    (tmp_path / ".r.incoming").mkdir()
    (tmp_path / ".sweep.json.x.tmp").write_text("half")
    assert recover_snapshots(tmp_path, ["r", "s"]) == ["r"]
    assert RunDir.open(tmp_path / "r").config() == {"v": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "r"]


# -- the worker function, in this process -----------------------------------------------------


def _tiny_config(**update: object) -> dict[str, object]:
    config = plan_sweep("grokking", overrides=OVERRIDES).runs[0].config
    return {**config, **update}


def test_worker_ships_a_consistent_snapshot_at_every_checkpoint(tmp_path: Path) -> None:
    events: list[SweepEvent] = []
    reporter = Reporter("r", events.append, ship_checkpoints=True, interval_s=0.0)
    outcome = execute_run("r", tmp_path / "r", _tiny_config(), 1, reporter)
    assert outcome == RunOutcome("r", "finished")
    assert events[0] == RunStarted("r", None)
    assert events[-1] == RunStepped("r", 30, 30)
    snapshots = [e for e in events if isinstance(e, RunSnapshot)]
    assert [s.step for s in snapshots] == [0, 10, 20, 30]

    # Each snapshot is a run directory stopped right after that checkpoint...
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    apply_snapshot(sweep, "r", snapshots[1].archive)
    run = RunDir.open(sweep / "r")
    assert run.store(readonly=True).get_meta("steps_completed") == 10
    assert max(int(p.name[5:13]) for p in run.checkpoints_dir.iterdir()) == 10
    # ...from which the run resumes and ends with the records of the uninterrupted run.
    events.clear()
    resumed = execute_run("r", sweep / "r", _tiny_config(), 1, Reporter("r", events.append))
    assert resumed.state == "finished" and events[0] == RunStarted("r", 10)
    got, want = records(sweep / "r"), records(tmp_path / "r")
    assert [r[:4] for r in got] == [r[:4] for r in want]
    assert [r[4] for r in got] == pytest.approx([r[4] for r in want], rel=1e-5, abs=1e-6)


def test_worker_records_a_failure_and_its_traceback(tmp_path: Path) -> None:
    events: list[SweepEvent] = []
    config = _tiny_config(data={"modulus": 11, "operation": "add", "train_fraction": 0.001})
    outcome = execute_run("bad", tmp_path / "bad", config, 1, Reporter("bad", events.append))
    assert outcome.state == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("ValueError: train_fraction=0.001 leaves 0 training")
    text = (tmp_path / "bad" / ERROR_NAME).read_text()
    assert text.startswith(outcome.error) and "Traceback (most recent call last)" in text
    assert "split_modular" in text
    assert isinstance(events[0], RunStarted)


def test_manifest_models_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        SweepRun.model_validate({"name": "a", "point": {}, "seed": 0, "config": {}, "x": 1})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        SweepManifest.model_validate({"experiment": "g", "grid": {}, "seeds": [0], "x": 1})
