"""The ``ray`` backend: one Ray task per run, each on its worker's own disk.

A task never writes the sweep folder. It unpacks the run's current directory (shipped by the
driver as tar bytes when the run resumes) into a temporary directory on its node, trains there,
and ships the directory back as a consistent snapshot (:mod:`infodyn.sweep.archive`): at every
checkpoint through a Ray queue, and at the end as its return value. The driver installs each
snapshot into the sweep folder, so a killed sweep resumes from the last checkpoint shipped.
The logic is the same on a local Ray instance and on a cluster: nothing assumes a shared disk.

``ray`` is imported only here, and only when a backend is made, so infodyn works without it.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infodyn.config import ConfigError
from infodyn.rundir import NotARunDirectoryError, RunDir
from infodyn.sweep.archive import pack_run, unpack_run
from infodyn.sweep.tasks import RunOutcome, RunTask, SweepEvent
from infodyn.sweep.worker import Reporter, execute_run

__all__ = ["RayBackend", "require_ray"]

INSTALL_HINT = "pip install 'infodyn[ray]'"


def require_ray() -> Any:
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"--backend ray needs Ray, which is not installed; {INSTALL_HINT}"
        ) from None
    return ray


def _run_on_worker(task: RunTask, archive: bytes | None, inbox: Any) -> RunOutcome:
    """The Ray task: run ``task`` in a local temporary directory, return it packed."""
    import torch

    torch.set_num_threads(task.threads)
    with tempfile.TemporaryDirectory(prefix="infodyn-sweep-") as tmp:
        run_dir = Path(tmp) / task.name
        if archive is not None:
            unpack_run(archive, run_dir)
        reporter = Reporter(task.name, inbox.put, ship_checkpoints=True)
        outcome = execute_run(task.name, run_dir, task.config, task.threads, reporter)
        packed = pack_run(run_dir) if run_dir.is_dir() else None
    return dataclasses.replace(outcome, archive=packed)


def _current_archive(run_dir: Path) -> bytes | None:
    """The sweep folder's copy of a run, packed for a worker; None when there is none yet."""
    try:
        RunDir.open(run_dir)
    except NotARunDirectoryError:
        return None
    return pack_run(run_dir)


class RayBackend:
    """Run sweep tasks as Ray tasks of ``threads`` CPUs each.

    Args:
        threads: CPUs (and torch threads) per task.
        workers: At most this many tasks in flight; None leaves it to Ray's CPU accounting.
        address: Join this Ray cluster; None starts a local instance with ``num_cpus`` CPUs and
            no dashboard, shut down again by :meth:`close`. An instance already initialised in
            this process is used as it is, and left running.
        num_cpus: CPUs of a local instance.
    """

    def __init__(
        self, *, threads: int, workers: int | None, address: str | None, num_cpus: int
    ) -> None:
        ray = require_ray()
        from ray.util.queue import Queue

        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address is not None:
                try:
                    ray.init(address=address, **options)
                except (ConnectionError, RuntimeError, ValueError) as err:
                    raise ConfigError(
                        f"--ray-address {address}: cannot join that Ray cluster ({err}); pass "
                        f"the head node's address (e.g. 10.0.0.1:6379) or 'auto' on a node"
                    ) from None
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, **options)
        self.workers = workers
        # num_cpus=0: the queue must not take a CPU a run could use.
        self._inbox = Queue(actor_options={"num_cpus": 0})
        # max_retries=0: a crashed task is reported failed, and a re-run resumes it from the
        # last snapshot the driver installed, as the local backend does.
        self._remote = ray.remote(_run_on_worker).options(num_cpus=threads, max_retries=0)
        self._waiting: list[RunTask] = []
        self._refs: dict[Any, RunTask] = {}

    def submit(self, tasks: Sequence[RunTask]) -> None:
        self._waiting.extend(tasks)
        self._launch()

    def _launch(self) -> None:
        while self._waiting and (self.workers is None or len(self._refs) < self.workers):
            task = self._waiting.pop(0)
            ref = self._remote.remote(task, _current_archive(task.run_dir), self._inbox)
            self._refs[ref] = task

    def outstanding(self) -> int:
        return len(self._refs) + len(self._waiting)

    def poll(self, timeout: float) -> list[SweepEvent]:
        ray = self._ray
        ready: list[Any] = []
        if self._refs:
            ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=timeout)
        # Drain after wait: a task puts its last events before it returns, so they come first.
        size = self._inbox.qsize()
        events: list[SweepEvent] = list(self._inbox.get_nowait_batch(size)) if size else []
        for ref in ready:
            task = self._refs.pop(ref)
            try:
                events.append(ray.get(ref))
            except ray.exceptions.RayError as err:  # the worker died; the task never returned
                first_line = (str(err).strip().splitlines() or [""])[0]
                events.append(
                    RunOutcome(
                        task.name,
                        "failed",
                        f"{type(err).__name__}: the Ray task died before it returned "
                        f"({first_line}); re-run the command to resume it from its last "
                        f"shipped checkpoint",
                    )
                )
        self._launch()
        return events

    def close(self) -> None:
        ray = self._ray
        for ref in self._refs:
            ray.cancel(ref, force=True)
        self._refs.clear()
        self._waiting.clear()
        self._inbox.shutdown()
        if self._owns_ray:
            ray.shutdown()
