"""The sweep driver: hand unfinished runs to a backend and keep the manifest true to events.

Only the driver writes ``sweep.json`` (atomically, after every start and every end of a run)
and only the driver installs shipped snapshots, one driver per sweep folder at a time (an
advisory lock on ``.sweep.lock``). A re-run of the same command skips runs the manifest calls
finished and whose directory holds a report, and resumes every other run from its checkpoints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from infodyn.config import ConfigError
from infodyn.rundir import RunDir
from infodyn.sweep.archive import apply_snapshot, recover_snapshots
from infodyn.sweep.manifest import SweepManifest, SweepRun, save_manifest
from infodyn.sweep.progress import SweepProgress
from infodyn.sweep.tasks import (
    Backend,
    RunOutcome,
    RunSnapshot,
    RunStarted,
    RunStepped,
    RunTask,
    SweepEvent,
)

__all__ = ["LOCK_NAME", "is_done", "run_sweep"]

LOCK_NAME = ".sweep.lock"
#: Seconds the driver waits for events before it checks again.
POLL_S = 0.2


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Hold the sweep folder's lock; a second driver on the same folder is refused."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the user keeps to one driver per folder
        yield
        return
    with open(directory / LOCK_NAME, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `infodyn sweep` is running on {directory}; wait for it to end (or "
                f"stop it) before running this one"
            ) from None
        yield  # the lock goes with the file handle, also when the process is killed


def is_done(directory: Path, run: SweepRun) -> bool:
    """Whether ``run`` finished and its directory still holds its report."""
    return run.state == "finished" and RunDir(directory / run.name).report_path.is_file()


class _Driver:
    """Applies one backend's events to the manifest, the sweep folder and the display."""

    def __init__(self, directory: Path, manifest: SweepManifest, display: SweepProgress) -> None:
        self.directory = directory
        self.manifest = manifest
        self.display = display
        self.runs = {run.name: run for run in manifest.runs}
        self.ended: set[str] = set()

    def handle(self, event: SweepEvent) -> None:
        if event.name in self.ended:  # a late event of a run already reported: stale
            return
        run = self.runs[event.name]
        if isinstance(event, RunStarted):
            run.state, run.error, run.resumed_from = "running", None, event.resumed_from
            save_manifest(self.directory, self.manifest)
            self.display.started(event.name, event.resumed_from)
        elif isinstance(event, RunStepped):
            self.display.stepped(event.name, event.step, event.total)
        elif isinstance(event, RunSnapshot):
            apply_snapshot(self.directory, event.name, event.archive)
        elif isinstance(event, RunOutcome):
            if event.archive is not None:
                apply_snapshot(self.directory, event.name, event.archive)
            run.state, run.error = event.state, event.error
            save_manifest(self.directory, self.manifest)
            self.ended.add(event.name)
            self.display.finished(event.name, event.state)


def run_sweep(
    directory: Path,
    manifest: SweepManifest,
    make_backend: Callable[[], Backend],
    *,
    threads: int,
    display: SweepProgress,
) -> SweepManifest:
    """Run every run of ``manifest`` that is not done, through the backend ``make_backend`` makes.

    Args:
        directory: The sweep folder; ``manifest`` is its ``sweep.json``.
        manifest: Updated in place as runs start and end, and saved after each change.
        make_backend: Called once the folder's lock is held; the backend is closed before this
            returns, also on an exception.
        threads: Torch threads of each run in this attempt.
        display: Progress shown meanwhile.

    Returns:
        ``manifest``, with every run ``finished`` or ``failed``.

    Raises:
        ConfigError: Another driver holds the folder's lock.
    """
    with _exclusive(directory):
        recover_snapshots(directory, [run.name for run in manifest.runs])
        todo = [run for run in manifest.runs if not is_done(directory, run)]
        for run in todo:
            if run.state == "finished":  # its directory lost the report: run it again
                run.state = "pending"
        save_manifest(directory, manifest)
        display.begin(len(manifest.runs), len(manifest.runs) - len(todo))
        if not todo:
            return manifest
        backend = make_backend()
        try:
            backend.submit(
                [RunTask(run.name, directory / run.name, run.config, threads) for run in todo]
            )
            driver = _Driver(directory, manifest, display)
            while backend.outstanding():
                for event in backend.poll(POLL_S):
                    driver.handle(event)
        finally:
            backend.close()
    return manifest
