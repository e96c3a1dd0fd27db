"""One sweep run inside a worker: start or resume it, report progress, catch its failure.

The same function serves the process pool (which works in the sweep folder) and Ray (which
works in a directory on the worker's own disk), so both resume and fail the same way.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infodyn.checkpoint import list_checkpoints
from infodyn.config import build_config
from infodyn.experiments import get_experiment
from infodyn.rundir import CONFIG_NAME, RunDir
from infodyn.runner import execute, reopen_run
from infodyn.sweep.archive import pack_run
from infodyn.sweep.tasks import RunOutcome, RunSnapshot, RunStarted, RunStepped, SweepEvent

__all__ = ["ERROR_NAME", "Reporter", "execute_run"]

#: Written into a failed run's directory: the exception and the end of its traceback.
ERROR_NAME = "error.txt"
#: How many traceback lines error.txt keeps (the innermost frames say what went wrong).
ERROR_LINES = 40


class Reporter:
    """Sends one run's events to the driver through ``put``.

    Args:
        name: The run's name.
        put: Delivers an event to the driver (a queue's ``put``).
        ship_checkpoints: Pack the run directory at every checkpoint and send it as a
            :class:`RunSnapshot` (for workers whose disk the driver cannot see).
        interval_s: Minimum seconds between two step events (the last step is always sent).
    """

    def __init__(
        self,
        name: str,
        put: Callable[[SweepEvent], Any],
        *,
        ship_checkpoints: bool = False,
        interval_s: float = 0.25,
    ) -> None:
        self.name = name
        self.put = put
        self.ship_checkpoints = ship_checkpoints
        self.interval_s = interval_s
        self._last_sent = float("-inf")

    def started(self, resumed_from: int | None) -> None:
        self.put(RunStarted(self.name, resumed_from))

    def stepped(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step >= total or now - self._last_sent >= self.interval_s:
            self._last_sent = now
            self.put(RunStepped(self.name, step, total))

    def checkpointed(self, step: int, run_dir: Path) -> None:
        if self.ship_checkpoints:
            self.put(RunSnapshot(self.name, step, pack_run(run_dir)))


def _newest_checkpoint(run: RunDir) -> int | None:
    found = list_checkpoints(run)
    return found[-1][0] if found else None


def _write_error(run_dir: Path, err: BaseException) -> str:
    """Record ``err`` in ``run_dir/error.txt``; returns its one-line summary."""
    summary = f"{type(err).__name__}: {err}"
    lines = "".join(traceback.format_exception(err)).splitlines()[-ERROR_LINES:]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ERROR_NAME).write_text("\n".join([summary, "", *lines]) + "\n", "utf-8")
    return summary


def _open_or_create(run_dir: Path, config: dict[str, Any], threads: int) -> tuple[RunDir, Any]:
    if (run_dir / CONFIG_NAME).is_file():
        run, cfg = reopen_run(run_dir)
    else:
        # RunDir.create writes config.json last: without it the directory holds nothing worth
        # keeping (a create cut short, or only the error.txt of an attempt that failed early).
        shutil.rmtree(run_dir, ignore_errors=True)
        cfg = build_config(get_experiment(config["experiment"]).config_type, base=config)
        run = RunDir.create(run_dir, cfg.model_dump(mode="json"))
    # Threads are a resource of this attempt, not part of the run's identity.
    return run, cfg.model_copy(update={"threads": threads})


def execute_run(
    name: str, run_dir: Path, config: dict[str, Any], threads: int, reporter: Reporter
) -> RunOutcome:
    """Start the run in ``run_dir`` (or resume it from its last checkpoint) and finish it.

    Relies on :func:`infodyn.runner.execute` resuming by itself and calling ``on_checkpoint``
    after every checkpoint, once the store holds everything up to it.

    Returns:
        A finished outcome, or a failed one carrying ``"<ExceptionType>: <message>"`` (with
        the traceback's end in ``run_dir/error.txt``). No ``Exception`` escapes, so one bad
        run cannot take its worker, or the sweep, down (``KeyboardInterrupt`` still does).
    """
    run_dir = Path(run_dir)
    try:
        (run_dir / ERROR_NAME).unlink(missing_ok=True)
        run, cfg = _open_or_create(run_dir, config, threads)
        resumed_from = _newest_checkpoint(run)
        reporter.started(resumed_from)
        execute(
            run,
            cfg,
            reporter.stepped,
            on_checkpoint=lambda step: reporter.checkpointed(step, run.root),
        )
    except Exception as err:
        return RunOutcome(name, "failed", _write_error(run_dir, err))
    return RunOutcome(name, "finished")
