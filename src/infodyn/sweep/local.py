"""The ``local`` backend: a ``spawn`` process pool on this machine, writing the sweep folder.

Each worker process sets its torch thread count once, runs one task at a time, and sends
events through a ``SimpleQueue`` (written synchronously, so a run's events are in the pipe
before its result is). A worker exits as soon as the driver dies, so a re-run never finds an
orphan still writing a run directory. When a worker is killed the pool breaks: the runs that
had started are reported failed (a re-run resumes them), the ones that had not are resubmitted
to a fresh pool.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import SimpleQueue

from infodyn.sweep.tasks import RunOutcome, RunStarted, RunTask, SweepEvent
from infodyn.sweep.worker import Reporter, execute_run

__all__ = ["LocalBackend"]

_events: SimpleQueue[SweepEvent] | None = None  # set in each worker by _init_worker


def _exit_with_parent() -> None:
    """Exit this worker the moment its parent (the driver) dies, even by SIGKILL."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)  # no cleanup: a half-done step is rolled back by SQLite and redone on resume

    threading.Thread(target=watch, name="infodyn-parent-watch", daemon=True).start()


def _init_worker(events: SimpleQueue[SweepEvent], threads: int) -> None:
    global _events
    _events = events
    import torch

    torch.set_num_threads(threads)
    _exit_with_parent()


def _run_task(task: RunTask) -> RunOutcome:
    if _events is None:
        raise RuntimeError("_run_task runs only in a LocalBackend worker (_init_worker not run)")
    reporter = Reporter(task.name, _events.put)
    return execute_run(task.name, task.run_dir, task.config, task.threads, reporter)


class LocalBackend:
    """Run sweep tasks in ``workers`` spawned processes with ``threads`` torch threads each."""

    def __init__(self, workers: int, threads: int) -> None:
        self.workers = workers
        self.threads = threads
        self._context = multiprocessing.get_context("spawn")
        self._events: SimpleQueue[SweepEvent] = self._context.SimpleQueue()
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[RunOutcome], RunTask] = {}
        self._running: set[str] = set()  # started (RunStarted seen) and not yet reported

    def submit(self, tasks: Sequence[RunTask]) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=self._context,
                initializer=_init_worker,
                initargs=(self._events, self.threads),
            )
        for task in tasks:
            self._futures[self._pool.submit(_run_task, task)] = task

    def outstanding(self) -> int:
        return len(self._futures)

    def _drain(self) -> list[SweepEvent]:
        events = []
        while not self._events.empty():
            event = self._events.get()
            if isinstance(event, RunStarted):
                self._running.add(event.name)
            events.append(event)
        return events

    def _outcome(self, future: Future[RunOutcome], task: RunTask) -> RunOutcome | None:
        """The future's outcome, or None when its worker pool broke under it."""
        try:
            outcome = future.result()
        except BrokenProcessPool:
            return None
        except Exception as err:  # e.g. the task could not be pickled
            outcome = RunOutcome(task.name, "failed", f"{type(err).__name__}: {err}")
        self._running.discard(task.name)
        return outcome

    def poll(self, timeout: float) -> list[SweepEvent]:
        done, _ = wait(self._futures, timeout=timeout, return_when=FIRST_COMPLETED)
        events = self._drain()  # after wait: a finished run's events are already in the pipe
        broken = []
        for future in done:
            task = self._futures.pop(future)
            outcome = self._outcome(future, task)
            if outcome is None:
                broken.append(task)
            else:
                events.append(outcome)
        if broken:
            events.extend(self._restart(broken))
        return events

    def _restart(self, broken: list[RunTask]) -> list[SweepEvent]:
        """Fail the broken runs that had started; resubmit the others to a fresh pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        events: list[SweepEvent] = list(self._drain())
        for future, task in list(self._futures.items()):
            del self._futures[future]
            outcome = self._outcome(future, task)
            if outcome is None:
                broken.append(task)
            else:
                events.append(outcome)
        started = [t for t in broken if t.name in self._running]
        again = [t for t in broken if t.name not in self._running]
        if not started:  # nothing to blame: failing them all beats restarting forever
            started, again = broken, []
        for task in started:
            self._running.discard(task.name)
            events.append(
                RunOutcome(
                    task.name,
                    "failed",
                    "WorkerDied: a worker process of the pool died (killed or crashed) while "
                    "this run was in progress; re-run the command to resume it from its last "
                    "checkpoint",
                )
            )
        if again:
            self.submit(again)
        return events

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._events.close()
