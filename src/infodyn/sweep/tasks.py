"""What flows between a sweep's driver and its workers: tasks out, events back.

Every type here is a plain frozen dataclass so it pickles across a ``spawn`` process pool and
through Ray's object store alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "Backend",
    "RunOutcome",
    "RunSnapshot",
    "RunStarted",
    "RunStepped",
    "RunTask",
    "SweepEvent",
]


@dataclass(frozen=True)
class RunTask:
    """One run for a worker to start or resume.

    Attributes:
        name: The run's name in the manifest.
        run_dir: Its directory in the sweep folder, as the driver sees it.
        config: The full config a fresh start is created with (the manifest's).
        threads: Torch threads the worker runs it with.
    """

    name: str
    run_dir: Path
    config: dict[str, Any]
    threads: int


@dataclass(frozen=True)
class RunStarted:
    """A worker began ``name``; ``resumed_from`` is its newest checkpoint step, or None."""

    name: str
    resumed_from: int | None


@dataclass(frozen=True)
class RunStepped:
    """Run ``name`` has done ``step`` of ``total`` steps (sent a few times a second at most)."""

    name: str
    step: int
    total: int


@dataclass(frozen=True)
class RunSnapshot:
    """The run directory of ``name`` as of its checkpoint at ``step``, packed as tar bytes."""

    name: str
    step: int
    archive: bytes


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended.

    Attributes:
        name: The run's name.
        state: ``finished`` or ``failed``.
        error: ``"<ExceptionType>: <message>"`` when it failed.
        archive: The final run directory as tar bytes when the worker ran it on its own disk
            (the Ray backend); None when it wrote the sweep folder in place.
    """

    name: str
    state: Literal["finished", "failed"]
    error: str | None = None
    archive: bytes | None = None


SweepEvent = RunStarted | RunStepped | RunSnapshot | RunOutcome


class Backend(Protocol):
    """Runs tasks somewhere and reports what happens to them, in order per run."""

    def submit(self, tasks: Sequence[RunTask]) -> None:
        """Queue ``tasks``; each ends in exactly one :class:`RunOutcome` event."""

    def poll(self, timeout: float) -> list[SweepEvent]:
        """Events since the last call, waiting up to ``timeout`` seconds for the first."""

    def outstanding(self) -> int:
        """How many submitted tasks have not yet been reported by a :class:`RunOutcome`."""

    def close(self) -> None:
        """Stop every worker and release the backend's resources."""
