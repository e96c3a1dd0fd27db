"""Checkpoints for resuming a killed run: ``checkpoints/step-00001234.pt`` in the run directory.

A checkpoint holds only what ``torch.load(..., weights_only=True)`` accepts — tensors, numbers,
strings, None and dicts/lists/tuples of them (model and optimizer ``state_dict()`` qualify) — so
loading one never executes code from the file. :func:`save_checkpoint` refuses anything else
with the path of the offending entry. Files are written atomically, and
:func:`latest_checkpoint` skips a newest file that is corrupt (e.g. a disk filled up) with a
warning and falls back to the one before.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from infodyn.rundir import TMP_SUFFIX, RunDir, atomic_write_bytes

__all__ = [
    "ARCHIVE_DIR",
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
]

#: Subfolder of ``checkpoints/`` holding the checkpoints kept for good (never pruned).
ARCHIVE_DIR = "archive"

_FORMAT = "infodyn-checkpoint-v1"
_NAME = re.compile(r"^step-(\d+)\.pt$")


def checkpoint_path(run: RunDir, step: int) -> Path:
    """The file of the checkpoint at ``step``: ``checkpoints/step-00001234.pt``."""
    return run.checkpoints_dir / f"step-{step:08d}.pt"


def _checkpoints_in(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def list_checkpoints(run: RunDir, *, archived: bool = False) -> list[tuple[int, Path]]:
    """``(step, path)`` of every checkpoint file of ``run``, oldest first.

    With ``archived``, also the checkpoints kept for good in ``checkpoints/archive/`` (see
    :func:`save_checkpoint`'s ``archive``), one path per step.
    """
    recent = _checkpoints_in(run.checkpoints_dir)
    if not archived:
        return recent
    by_step = dict(_checkpoints_in(run.checkpoints_dir / ARCHIVE_DIR))
    by_step.update(recent)
    return sorted(by_step.items())


def _check_weights_only(obj: object, where: str) -> None:
    """Raise TypeError unless ``obj`` is loadable with ``weights_only=True``."""
    if obj is None or isinstance(obj, bool | int | float | str | torch.Tensor | torch.dtype):
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise TypeError(
                    f"{where} has a key {k!r} of type {type(k).__name__}; use str or int keys"
                )
            _check_weights_only(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_weights_only(v, f"{where}[{i}]")
        return
    hint = " (convert with torch.from_numpy)" if type(obj).__module__.startswith("numpy") else ""
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__name__}{hint}; a checkpoint holds only "
        f"tensors, numbers, strings, None and dicts/lists/tuples of them so that it loads with "
        f"torch.load(weights_only=True) — save state_dict()s, not objects"
    )


def save_checkpoint(
    run: RunDir, step: int, state: Mapping[str, Any], *, keep: int = 2, archive: bool = False
) -> Path:
    """Save ``state`` as the checkpoint at ``step`` and prune old ones.

    Args:
        run: The run directory.
        step: Training step the state belongs to (``int >= 0``).
        state: e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(),
            "rng": torch.get_rng_state()}``; only weights-only-loadable values.
        keep: How many of the newest checkpoints to keep (``>= 1``).
        archive: Also keep this checkpoint for good, in ``checkpoints/archive/`` (a hard link
            where the file system allows, else a copy), e.g. for ``infodyn inspect``.

    Checkpoints with a step above ``step`` are deleted too, archived ones included: saving at
    ``step`` means the run resumed from an earlier point and those files belong to the
    abandoned timeline (the same reasoning as :meth:`RunStore.truncate_after`).

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunDir.create(pathlib.Path(d) / "r", {})
        ...     for step in (10, 20, 30):
        ...         _ = save_checkpoint(run, step, {"w": torch.ones(2) * step})
        ...     step, state = latest_checkpoint(run)
        ...     [s for s, _ in list_checkpoints(run)], step, state["w"].tolist()
        ([20, 30], 30, [30.0, 30.0])
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    if not isinstance(state, Mapping):
        raise TypeError(
            f"state must be a mapping of names to state dicts, got {type(state).__name__}"
        )
    _check_weights_only(state, "state")

    buf = io.BytesIO()
    torch.save({"format": _FORMAT, "step": step, "state": dict(state)}, buf)
    run.checkpoints_dir.mkdir(exist_ok=True)
    path = checkpoint_path(run, step)
    atomic_write_bytes(path, buf.getvalue())

    archive_dir = run.checkpoints_dir / ARCHIVE_DIR
    if archive:
        archive_dir.mkdir(exist_ok=True)
        kept = archive_dir / path.name
        kept.unlink(missing_ok=True)
        try:
            kept.hardlink_to(path)
        except OSError:  # a file system without hard links
            atomic_write_bytes(kept, path.read_bytes())
    for later, p in _checkpoints_in(archive_dir):
        if later > step:
            p.unlink(missing_ok=True)
    existing = list_checkpoints(run)
    stale = [p for s, p in existing if s > step]
    older = [p for s, p in existing if s <= step]
    for p in stale + older[: max(len(older) - keep, 0)]:
        p.unlink(missing_ok=True)
    # Temporaries left by a process killed mid-write are never valid checkpoints.
    for p in run.checkpoints_dir.glob(f".step-*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            p.unlink()
    return path


def load_checkpoint(path: Path, step: int) -> dict[str, Any]:
    """The state saved in one infodyn checkpoint file (``weights_only=True``, onto the CPU).

    Raises:
        ValueError: The file is not an infodyn checkpoint for ``step``.
    """
    payload = torch.load(path, weights_only=True, map_location="cpu")
    if not (
        isinstance(payload, dict)
        and payload.get("format") == _FORMAT
        and payload.get("step") == step
        and isinstance(payload.get("state"), dict)
    ):
        raise ValueError(f"{path} is not an {_FORMAT} file for step {step}")
    return payload["state"]


def latest_checkpoint(run: RunDir) -> tuple[int, dict[str, Any]] | None:
    """Load the newest readable checkpoint of ``run``.

    Loads with ``weights_only=True`` onto the CPU. A file that fails to load, or that is not an
    infodyn checkpoint for the step its name says, is skipped with a ``UserWarning`` and the
    previous one is tried.

    Returns:
        ``(step, state)`` with ``state`` as passed to :func:`save_checkpoint`, or None when no
        readable checkpoint exists.
    """
    for step, path in reversed(list_checkpoints(run)):
        try:
            state = load_checkpoint(path, step)
        except Exception as exc:  # any unreadable file: truncated zip, bad pickle, wrong content
            warnings.warn(
                f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc}); "
                f"falling back to the previous checkpoint",
                stacklevel=2,
            )
            continue
        return step, state
    return None
