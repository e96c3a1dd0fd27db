"""Run directories: layout, opening and its errors, atomic writes, naming."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infodyn.rundir import (
    NotARunDirectoryError,
    RunDir,
    atomic_write_bytes,
    atomic_write_text,
    list_runs,
    new_run_dir,
    new_run_name,
)
from infodyn.store import SCHEMA_VERSION, RunStore, Scalar

CONFIG = {"experiment": "grokking", "model": {"width": 128}, "seed": 0}


def test_create_lays_out_the_directory(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "a" / "b" / "run1", CONFIG)
    assert run.root == tmp_path / "a" / "b" / "run1"
    assert run.name == "run1"
    assert sorted(p.name for p in run.root.iterdir()) == [
        "checkpoints",
        "config.json",
        "figures",
        "run.sqlite",
    ]
    assert run.figures_dir.is_dir() and run.checkpoints_dir.is_dir()
    assert run.config_path.read_text() == json.dumps(CONFIG, indent=2, sort_keys=True) + "\n"
    assert run.config() == CONFIG
    assert run.report_path == run.root / "report.html"
    with run.store() as store:
        assert store.scalars() == [] and store.get_meta("schema_version") == SCHEMA_VERSION


def test_open_round_trip_and_store_access(tmp_path: Path) -> None:
    created = RunDir.create(tmp_path / "run", CONFIG)
    with created.store() as store:
        store.write([Scalar(0, "train", "loss", 1.0)])
    run = RunDir.open(str(tmp_path / "run"))
    assert run == created
    with run.store(readonly=True) as store:
        assert store.series("loss", "train")[1].tolist() == [1.0]


def test_create_accepts_an_existing_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    RunDir.open(RunDir.create(tmp_path / "run", {}).root)


def test_create_refuses_non_empty_directory_and_files(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        RunDir.create(tmp_path / "full", CONFIG)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        RunDir.create(tmp_path / "file", CONFIG)


def test_create_with_unencodable_config_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not JSON-encodable"):
        RunDir.create(tmp_path / "run", {"fn": print})
    assert not (tmp_path / "run").exists()


def _not_a_run(path: Path) -> None:
    with pytest.raises(NotARunDirectoryError) as info:
        RunDir.open(path)
    assert str(info.value) == (
        f"{path} is not an infodyn run directory (missing config.json/run.sqlite); "
        f"pass a directory created by `infodyn run`"
    )
    assert isinstance(info.value, ValueError)


def test_open_errors(tmp_path: Path) -> None:
    _not_a_run(tmp_path / "does-not-exist")
    (tmp_path / "empty").mkdir()
    _not_a_run(tmp_path / "empty")
    (tmp_path / "a-file").write_text("x")
    _not_a_run(tmp_path / "a-file")
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "config.json").write_text("{}")
    _not_a_run(tmp_path / "config-only")


def test_list_runs_is_sorted_and_skips_other_entries(tmp_path: Path) -> None:
    for name in ("b-run", "a-run"):
        RunDir.create(tmp_path / name, {})
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [r.name for r in list_runs(tmp_path)] == ["a-run", "b-run"]
    with pytest.raises(FileNotFoundError, match="no runs directory"):
        list_runs(tmp_path / "missing")


def _entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    atomic_write_text(tmp_path / "r.html", "é<>")
    assert target.read_bytes() == b"two"
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "é<>"
    assert _entries(tmp_path) == ["fig.png", "r.html"]


def test_failed_atomic_write_keeps_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.json"
    atomic_write_bytes(target, b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert _entries(tmp_path) == ["config.json"]


def test_new_run_name_and_dir() -> None:
    t = datetime(2026, 11, 25, 7, 45, 1, tzinfo=UTC)
    assert new_run_name("grokking", now=t) == "grokking-20261125-074501"
    assert new_run_name("te-plane").startswith("te-plane-20")
    with pytest.raises(ValueError, match="letters, digits"):
        new_run_name("../evil")
    with pytest.raises(ValueError, match="non-empty"):
        new_run_name("")


def test_new_run_dir_adds_suffixes(tmp_path: Path) -> None:
    t = datetime(2026, 11, 25, 7, 45, 1, tzinfo=UTC)
    first = new_run_dir(tmp_path, "grokking", now=t)
    assert first == tmp_path / "grokking-20261125-074501" and not first.exists()
    RunDir.create(first, {})
    second = new_run_dir(tmp_path, "grokking", now=t)
    assert second.name == "grokking-20261125-074501-2"
    second.mkdir()
    assert new_run_dir(tmp_path, "grokking", now=t).name == "grokking-20261125-074501-3"


def test_created_store_is_a_real_store(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "run", {})
    RunStore(run.store_path, readonly=True).close()
