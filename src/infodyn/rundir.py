"""Run directories: one folder per run holding its config, store, figures, report, checkpoints.

Layout::

    <run>/config.json      the experiment config (indent 2, sorted keys)
    <run>/run.sqlite       the RunStore with every measurement
    <run>/figures/         PNGs drawn from the store
    <run>/report.html      the self-contained report
    <run>/checkpoints/     step-00001234.pt files for resuming

Files that must never be seen half-written (config, figures, report, checkpoints) go through
:func:`atomic_write_bytes`: write a temporary file in the same directory, fsync it, then
``os.replace`` it over the target, which POSIX and Windows both make atomic.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infodyn.store import RunStore

__all__ = [
    "NotARunDirectoryError",
    "RunDir",
    "atomic_write_bytes",
    "atomic_write_text",
    "list_runs",
    "new_run_dir",
    "new_run_name",
]

CONFIG_NAME = "config.json"
STORE_NAME = "run.sqlite"
FIGURES_NAME = "figures"
REPORT_NAME = "report.html"
CHECKPOINTS_NAME = "checkpoints"

#: Temporary files of atomic writes carry this suffix, so a crash leftover is recognisable.
TMP_SUFFIX = ".tmp"


class NotARunDirectoryError(ValueError):
    """Raised when a path is not a directory created by :meth:`RunDir.create`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"{path} is not an infodyn run directory (missing {CONFIG_NAME}/{STORE_NAME}); "
            f"pass a directory created by `infodyn run`"
        )


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a rename survives power loss (a no-op where unsupported)."""
    if os.name != "posix":  # Windows cannot open a directory for fsync
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never a mix.

    Args:
        path: Target file; its directory must exist.
        data: The complete new content.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     target = pathlib.Path(d) / "a.bin"
        ...     atomic_write_bytes(target, b"hello")
        ...     sorted(p.name for p in pathlib.Path(d).iterdir()), target.read_bytes()
        (['a.bin'], b'hello')
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory, and access to its config and store.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunDir.create(pathlib.Path(d) / "demo", {"experiment": "grokking"})
        ...     reopened = RunDir.open(run.root)
        ...     reopened.config(), sorted(p.name for p in run.root.iterdir())
        ({'experiment': 'grokking'}, ['checkpoints', 'config.json', 'figures', 'run.sqlite'])
    """

    root: Path

    @property
    def name(self) -> str:
        """The directory name, which identifies the run."""
        return self.root.name

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    @property
    def figures_dir(self) -> Path:
        return self.root / FIGURES_NAME

    @property
    def report_path(self) -> Path:
        return self.root / REPORT_NAME

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / CHECKPOINTS_NAME

    @classmethod
    def create(cls, root: str | Path, config: Mapping[str, Any]) -> RunDir:
        """Create a new run directory with ``config.json``, an empty store and subfolders.

        Args:
            root: The directory to create (parents too). It may exist if it is empty.
            config: JSON-encodable experiment config.

        Raises:
            FileExistsError: ``root`` exists and is not an empty directory.
            TypeError: ``config`` is not JSON-encodable.
        """
        root = Path(root)
        try:
            # Encode first so a bad config leaves nothing behind.
            text = json.dumps(dict(config), indent=2, sort_keys=True) + "\n"
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"run config is not JSON-encodable ({exc}); pass plain numbers, strings, "
                f"lists and dicts (e.g. pydantic's model.model_dump(mode='json'))"
            ) from exc
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise FileExistsError(
                f"cannot create a run at {root}: it already exists and is not an empty "
                f"directory; choose a new path (new_run_dir picks one) or resume that run"
            )
        root.mkdir(parents=True, exist_ok=True)
        run = cls(root)
        run.figures_dir.mkdir()
        run.checkpoints_dir.mkdir()
        RunStore(run.store_path).close()
        # config.json last: its presence (with the store) is what marks a complete run dir.
        atomic_write_text(run.config_path, text)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run directory.

        Raises:
            NotARunDirectoryError: ``path`` is not a directory holding config.json and run.sqlite.
        """
        root = Path(path)
        if not (root.is_dir() and (root / CONFIG_NAME).is_file() and (root / STORE_NAME).is_file()):
            raise NotARunDirectoryError(path)
        return cls(root)

    def config(self) -> dict[str, Any]:
        """The decoded ``config.json``."""
        data = json.loads(self.config_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(
                f"{self.config_path} must hold a JSON object, got {type(data).__name__}"
            )
        return data

    def store(self, *, readonly: bool = False) -> RunStore:
        """Open the run's store (close it, or use it in a ``with`` block)."""
        return RunStore(self.store_path, readonly=readonly)


def list_runs(root: str | Path) -> list[RunDir]:
    """The run directories directly under ``root``, sorted by name.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"no runs directory at {root}; pass the --out folder of `infodyn run`"
        )
    runs = []
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        with contextlib.suppress(NotARunDirectoryError):
            runs.append(RunDir.open(child))
    return runs


_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def new_run_name(experiment: str, *, now: datetime | None = None) -> str:
    """A run name ``<experiment>-YYYYmmdd-HHMMSS`` from the UTC time (seconds).

    Example:
        >>> from datetime import datetime, UTC
        >>> new_run_name("grokking", now=datetime(2026, 11, 25, 7, 45, 1, tzinfo=UTC))
        'grokking-20261125-074501'
    """
    if not _NAME_OK.match(experiment):
        raise ValueError(
            f"experiment name {experiment!r} must be non-empty and use only letters, digits, "
            f"'.', '_' and '-' (it becomes a directory name)"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{experiment}-{moment:%Y%m%d-%H%M%S}"


def new_run_dir(parent: str | Path, experiment: str, *, now: datetime | None = None) -> Path:
    """A path under ``parent`` that does not exist yet, named by :func:`new_run_name`.

    Two runs started in the same second get ``-2``, ``-3``, ... suffixes. The path is only
    checked, not reserved: pass it straight to :meth:`RunDir.create`.

    Example:
        >>> import tempfile, pathlib
        >>> from datetime import datetime, UTC
        >>> t = datetime(2026, 11, 25, 7, 45, 1, tzinfo=UTC)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     (pathlib.Path(d) / "grokking-20261125-074501").mkdir()
        ...     new_run_dir(d, "grokking", now=t).name
        'grokking-20261125-074501-2'
    """
    base = Path(parent) / new_run_name(experiment, now=now)
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
