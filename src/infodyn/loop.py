"""The run loop: one object that trains any experiment into a run directory.

It owns what every experiment would otherwise repeat: threads, seeding, device, the store and
the monitor, the step loop with live and evaluation-pass probes, checkpoints and resume, and
the timing and progress of the run. The experiment supplies config, build, step, probes and
schedules (:class:`infodyn.experiments.base.Experiment`).

Per step ``s`` (0 is the initialisation, trained steps are 1…``config.steps``):

1. ``s > 0``: the training step, inside :meth:`Monitor.live` so live probes take its batch;
   its own values (e.g. the batch loss) are logged as live ``train`` values at log steps;
2. at log steps, the experiment's cheap evaluation values (:meth:`Experiment.log_values`);
3. every evaluation-pass probe due at ``s``, on each evaluation split;
4. one store transaction for everything recorded at ``s``;
5. at checkpoint steps, a checkpoint (model, optimiser, extra state, RNG states, live metric
   states) and the run's timing metadata.

Resume: the newest readable checkpoint is loaded, records after it are deleted (they are
measured again), and the loop continues at the next step with the same RNG states, so a
resumed run records what an uninterrupted one would.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from infodyn.checkpoint import latest_checkpoint, save_checkpoint
from infodyn.experiments.base import Experiment, ExperimentConfig, ProgressCallback, Setup
from infodyn.metrics import load_metric_state_dict, metric_state_dict
from infodyn.monitor import Monitor
from infodyn.rundir import RunDir
from infodyn.sinks.base import Sinks

__all__ = ["RunLoop", "seed_everything"]

CheckpointCallback = Callable[[int], None]
"""Called as ``on_checkpoint(step)`` once a checkpoint and its records are on disk."""


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy's global generator and Python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the global generator user code may draw from)
    random.seed(seed)


def _rng_state() -> dict[str, Any]:
    """Every global RNG state, in checkpointable form (tensors, ints, lists)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RunLoop:
    """Train ``experiment`` with ``config`` into ``run``, resuming from its last checkpoint.

    Args:
        experiment: The experiment (config type, build, step, probes, schedules, summary).
        config: Its validated config; ``config.steps`` trained steps after step 0.
        run: The run directory (created by :meth:`RunDir.create`).
        progress: Called as ``progress(step, total)`` after every step.
        on_checkpoint: Called as ``on_checkpoint(step)`` after every checkpoint, once the
            store holds everything up to that step (e.g. to ship a snapshot elsewhere).
        sinks: Where records also go (:mod:`infodyn.sinks`); started here with the state they
            keep in the store's meta ``sinks`` (e.g. the MLflow run id, for a resume), closed
            by the caller.
    """

    def __init__(
        self,
        experiment: Experiment[Any, Any],
        config: ExperimentConfig,
        run: RunDir,
        *,
        progress: ProgressCallback | None = None,
        on_checkpoint: CheckpointCallback | None = None,
        sinks: Sinks | None = None,
    ) -> None:
        self.experiment = experiment
        self.config = config
        self.run_dir = run
        self.progress = progress
        self.on_checkpoint = on_checkpoint
        self.sinks = sinks if sinks is not None else Sinks()
        self._ordinal = 0  # checkpoints saved in this run so far (kept in each checkpoint)

    def run(self) -> dict[str, float]:
        """Train to ``config.steps``; returns the last value of every logged or measured scalar.

        Keys are ``<split>_<metric>`` (``<split>_<metric>@<layer>`` off the feature layer).
        """
        started = time.perf_counter()
        config, experiment = self.config, self.experiment
        torch.set_num_threads(config.threads)
        device = torch.device(config.device)
        seed_everything(config.seed)
        setup: Setup = experiment.build(config, device)
        plan = experiment.probes(setup, config)
        schedules = experiment.schedules(config)
        store = self.run_dir.store()
        try:
            if self.sinks:
                state = dict(store.meta().get("sinks", {}))
                self.sinks.start(self.run_dir.root.name, config.model_dump(mode="json"), state)
                store.set_meta("sinks", state)
            monitor = Monitor(
                setup.model,
                store,
                plan.probes,
                features=plan.features,
                head=plan.head,
                sinks=self.sinks,
            )
            first_step, before = self._resume(setup, monitor)
            # Records after the last checkpoint are measured again; drop them so none doubles.
            store.truncate_after(first_step - 1)
            live_probes = any(p.mode == "live" for p in plan.probes.values())
            final: dict[str, float] = {}
            checkpoint_s = 0.0
            for step in range(first_step, config.steps + 1):
                if step > 0:
                    with monitor.live(step, plan.live_split) as live:
                        result = experiment.train_step(setup, step)
                        if result.labels is not None:
                            live.batch(result.inputs, result.labels)
                        elif live_probes:
                            raise RuntimeError(
                                f"experiment {experiment.name!r}: train_step returned no labels, "
                                f"but live probes need the step's inputs and labels "
                                f"(StepResult(inputs=x, labels=y))"
                            )
                    if result.values and schedules.log(step):
                        monitor.log(step, plan.live_split, result.values, mode="live")
                if schedules.log(step):
                    for split, values in experiment.log_values(setup, step).items():
                        monitor.log(step, split, values)
                        final.update({f"{split}_{k}": v for k, v in values.items()})
                for split, batches in plan.evaluation.items():
                    measured = monitor.measure(step, split, batches())
                    final.update({f"{split}_{k}": v for k, v in measured.items()})
                monitor.flush()
                if schedules.checkpoint(step) or step == config.steps:
                    tick = time.perf_counter()
                    self._checkpoint(step, setup, monitor)
                    checkpoint_s += time.perf_counter() - tick
                    self._write_timing(store, monitor, before, started, checkpoint_s, step)
                    if self.on_checkpoint is not None:
                        self.on_checkpoint(step)
                if self.progress is not None:
                    self.progress(step, config.steps)
            store.set_meta("threads", config.threads)
            store.set_meta("device", str(device))
            return final
        finally:
            store.close()

    def _resume(self, setup: Setup, monitor: Monitor) -> tuple[int, dict[str, Any]]:
        """Load the newest checkpoint, if any; returns (first step to run, timing so far)."""
        checkpoint = latest_checkpoint(self.run_dir)
        store = monitor.store
        assert store is not None  # the loop always gives its monitor the run's store
        if checkpoint is None:
            return 0, {}
        step, state = checkpoint
        self._ordinal = int(state.get("ordinal", 0))
        setup.model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        for name, obj in setup.stateful.items():
            obj.load_state_dict(state["stateful"][name])
        for name, saved in state.get("live", {}).items():
            load_metric_state_dict(monitor.probes[name].metric, saved["state"])
            monitor.restore_fed(name, int(saved["fed"]))
        _set_rng_state(state["rng"])
        before = {
            key: store.get_meta(key, 0.0)
            for key in ("wall_time_s", "monitor_time_s", "checkpoint_time_s")
        }
        before["monitor_times"] = store.get_meta("monitor_times", {})
        return step + 1, before

    def _checkpoint(self, step: int, setup: Setup, monitor: Monitor) -> None:
        live = {
            name: {"state": metric_state_dict(p.metric), "fed": monitor.fed(name)}
            for name, p in monitor.probes.items()
            if p.mode == "live"
        }
        self._ordinal += 1
        every = self.config.archive_checkpoints
        save_checkpoint(
            self.run_dir,
            step,
            {
                "model": setup.model.state_dict(),
                "optimizer": setup.optimizer.state_dict(),
                "stateful": {name: obj.state_dict() for name, obj in setup.stateful.items()},
                "rng": _rng_state(),
                "live": live,
                "step": step,
                "ordinal": self._ordinal,
            },
            keep=self.config.keep_checkpoints,
            # the k-th, 2k-th, … checkpoint and the last one
            archive=every > 0 and (self._ordinal % every == 0 or step == self.config.steps),
        )

    def _write_timing(
        self,
        store: Any,
        monitor: Monitor,
        before: dict[str, Any],
        started: float,
        checkpoint_s: float,
        step: int,
    ) -> None:
        times = dict(before.get("monitor_times", {}))
        for part, seconds in monitor.timings.items():
            times[part] = times.get(part, 0.0) + seconds
        store.set_meta("steps_completed", step)
        store.set_meta("monitor_time_s", before.get("monitor_time_s", 0.0) + monitor.elapsed_s)
        store.set_meta("monitor_times", {k: round(v, 6) for k, v in sorted(times.items())})
        store.set_meta("checkpoint_time_s", before.get("checkpoint_time_s", 0.0) + checkpoint_s)
        store.set_meta(
            "wall_time_s", before.get("wall_time_s", 0.0) + time.perf_counter() - started
        )
