"""Run-directory snapshots as tar bytes, and installing them into a sweep folder.

A Ray worker trains in a directory on its own disk and ships it to the driver as bytes: SQLite
in WAL mode must never be written over a network file system, and the driver never assumes a
disk shared with its workers. A snapshot holds every file of the run directory, with
``run.sqlite`` copied through SQLite's online backup API so it is one consistent transaction
state even while the run's own connection is open (its ``-wal``/``-shm`` files are left out).

The driver installs a snapshot crash-safely::

    <sweep>/<name>.snapshot.tar   written atomically first (the durable copy)
    <sweep>/.<name>.incoming/     unpacked from it
    <sweep>/<name>/               swapped in by two renames (old one to .<name>.replaced/)
    tar and .replaced removed     last

A driver killed anywhere in between finds the tar on its next start and installs it again
(:func:`recover_snapshots`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infodyn.rundir import STORE_NAME, TMP_SUFFIX, atomic_write_bytes

__all__ = ["apply_snapshot", "pack_run", "recover_snapshots", "unpack_run"]

SNAPSHOT_SUFFIX = ".snapshot.tar"


def _store_bytes(path: Path) -> bytes:
    """A consistent copy of the SQLite file at ``path`` (committed transactions only).

    The copy is switched to a rollback journal, so reading it where it lands (the sweep folder,
    perhaps on a network file system) needs no ``-shm`` shared memory; a run that resumes from
    it turns WAL back on when it opens its store.
    """
    with tempfile.TemporaryDirectory(prefix="infodyn-snapshot-") as tmp:
        copy_path = Path(tmp) / STORE_NAME
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(copy_path)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
        return copy_path.read_bytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def pack_run(run_dir: Path) -> bytes:
    """Every file of ``run_dir`` as an uncompressed tar, the store through the backup API.

    Temporary files of interrupted atomic writes (``*.tmp``) and the store's ``-wal``/``-shm``
    companions are left out. Paths in the archive are relative to ``run_dir``.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.rundir import RunDir
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunDir.create(pathlib.Path(d) / "a", {"experiment": "grokking"})
        ...     unpack_run(pack_run(run.root), pathlib.Path(d) / "b")
        ...     RunDir.open(pathlib.Path(d) / "b").config()
        {'experiment': 'grokking'}
    """
    run_dir = Path(run_dir)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(run_dir.rglob("*")):
            rel = path.relative_to(run_dir).as_posix()
            if path.is_dir():
                info = tarfile.TarInfo(rel)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif path.name == STORE_NAME and path.parent == run_dir:
                _add(tar, rel, _store_bytes(path))
            elif not (path.name.endswith(TMP_SUFFIX) or path.name.startswith(STORE_NAME + "-")):
                _add(tar, rel, path.read_bytes())
    return buf.getvalue()


def unpack_run(data: bytes, destination: Path) -> None:
    """Extract a :func:`pack_run` archive into ``destination`` (created; must not exist).

    Raises:
        FileExistsError: ``destination`` exists.
        tarfile.FilterError: The archive holds a path outside ``destination`` or a link.
    """
    destination = Path(destination)
    destination.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(destination, filter="data")


def _install(sweep_dir: Path, name: str) -> None:
    """Swap ``<name>.snapshot.tar`` in as ``<name>/``, then delete the tar."""
    archive = sweep_dir / f"{name}{SNAPSHOT_SUFFIX}"
    incoming, replaced = sweep_dir / f".{name}.incoming", sweep_dir / f".{name}.replaced"
    for leftover in (incoming, replaced):
        shutil.rmtree(leftover, ignore_errors=True)
    unpack_run(archive.read_bytes(), incoming)
    target = sweep_dir / name
    if target.exists():
        os.replace(target, replaced)
    os.replace(incoming, target)
    shutil.rmtree(replaced, ignore_errors=True)
    archive.unlink()


def apply_snapshot(sweep_dir: Path, name: str, data: bytes) -> None:
    """Make ``<sweep_dir>/<name>/`` the run directory packed in ``data``, crash-safely.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.rundir import RunDir
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sweep = pathlib.Path(d)
        ...     elsewhere = RunDir.create(sweep / "elsewhere" / "r", {"step": 2})
        ...     _ = RunDir.create(sweep / "r", {"step": 1})
        ...     apply_snapshot(sweep, "r", pack_run(elsewhere.root))
        ...     RunDir.open(sweep / "r").config(), sorted(p.name for p in sweep.iterdir())
        ({'step': 2}, ['elsewhere', 'r'])
    """
    atomic_write_bytes(sweep_dir / f"{name}{SNAPSHOT_SUFFIX}", data)
    _install(sweep_dir, name)


def recover_snapshots(sweep_dir: Path, names: Iterable[str]) -> list[str]:
    """Finish installing snapshots a killed driver left behind; returns the runs installed.

    Also removes the leftovers of interrupted installs and atomic writes in ``sweep_dir``.
    Call it only while no other driver works on ``sweep_dir``.
    """
    installed = []
    for name in names:
        if (sweep_dir / f"{name}{SNAPSHOT_SUFFIX}").is_file():
            _install(sweep_dir, name)
            installed.append(name)
    for leftover in [*sweep_dir.glob(".*.incoming"), *sweep_dir.glob(".*.replaced")]:
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in sweep_dir.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return installed
