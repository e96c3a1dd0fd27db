"""The run loop: a test experiment with minibatches, live and eval probes, and an exact resume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from infodyn.config import build_config
from infodyn.experiments.base import (
    Experiment,
    ExperimentConfig,
    LoopSchedules,
    ProbePlan,
    Setup,
    StepResult,
)
from infodyn.loop import RunLoop
from infodyn.metrics import MatrixInformation, NeuralCollapse
from infodyn.monitor import Probe, batches_of
from infodyn.rundir import RunDir
from infodyn.schedules import every
from infodyn.store import RunStore
from infodyn.summary import RunSummary


class ToyConfig(ExperimentConfig):
    experiment: str = "toy"
    steps: int = 24
    threads: int = 1
    live_labels: bool = True


@dataclass
class ToySetup(Setup):
    x: Tensor | None = None
    y: Tensor | None = None
    order: torch.Generator | None = None


class _GeneratorState:
    """Checkpointable wrapper of a torch.Generator (the data order)."""

    def __init__(self, g: torch.Generator) -> None:
        self.g = g

    def state_dict(self) -> dict[str, Tensor]:
        return {"state": self.g.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.g.set_state(state["state"])


class Toy(Experiment[ToyConfig, ToySetup]):
    """Minibatch SGD with dropout on random data, with a seeded data order."""

    name = "toy"
    description = "test experiment"
    config_type = ToyConfig

    def build(self, config: ToyConfig, device: torch.device) -> ToySetup:
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        x = torch.randn(96, 6)
        y = torch.arange(96) % 3
        order = torch.Generator().manual_seed(config.seed + 100)
        return ToySetup(
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
            stateful={"order": _GeneratorState(order)},
            x=x,
            y=y,
            order=order,
        )

    def train_step(self, setup: ToySetup, step: int) -> StepResult:
        assert setup.x is not None and setup.y is not None
        idx = torch.randperm(96, generator=setup.order)[:16]
        x, y = setup.x[idx], setup.y[idx]
        loss = F.cross_entropy(setup.model(x), y)  # dropout draws from the global RNG
        setup.optimizer.zero_grad()
        loss.backward()
        setup.optimizer.step()
        labels = y if self.live_labels else None
        return StepResult(values={"batch_loss": loss.item()}, inputs=x, labels=labels)

    live_labels = True

    def probes(self, setup: ToySetup, config: ToyConfig) -> ProbePlan:
        assert setup.x is not None and setup.y is not None
        return ProbePlan(
            probes={
                "mi": Probe(MatrixInformation(mode="pooled", max_samples=64), every(7)),
                "nc_live": Probe(NeuralCollapse(num_classes=3), every(7), mode="live"),
            },
            evaluation={"test": batches_of(setup.x[:48], setup.y[:48], 24)},
        )

    def schedules(self, config: ToyConfig) -> LoopSchedules:
        return LoopSchedules(log=every(3), checkpoint=every(5))

    def log_values(self, setup: ToySetup, step: int) -> dict[str, dict[str, float]]:
        return {"test": {"step_squared": float(step * step)}}

    def summarize(self, store: RunStore, config: ToyConfig) -> RunSummary:
        return RunSummary()


class Crash(RuntimeError):
    pass


def _records(run: RunDir) -> tuple[list[tuple], list[tuple]]:
    with run.store(readonly=True) as store:
        scalars = [(r.step, r.split, r.metric, r.layer, r.mode, r.value) for r in store.scalars()]
        arrays = [(r.step, r.split, r.metric, r.layer, r.mode) for r in store.arrays()]
    return scalars, arrays


def _fresh(tmp_path: Path, name: str, config: ToyConfig) -> RunDir:
    return RunDir.create(tmp_path / name, config.model_dump(mode="json"))


def test_loop_records_eval_live_and_logged_values(tmp_path: Path) -> None:
    config = build_config(ToyConfig)
    run = _fresh(tmp_path, "a", config)
    steps_seen = []
    RunLoop(Toy(), config, run, progress=lambda s, total: steps_seen.append((s, total))).run()
    assert steps_seen[0] == (0, 24) and steps_seen[-1] == (24, 24)
    scalars, _ = _records(run)
    modes = {(split, metric): mode for _, split, metric, _, mode, _ in scalars}
    assert modes[("test", "mir")] == "eval" and modes[("train", "rnc1")] == "live"
    assert modes[("train", "batch_loss")] == "live" and modes[("test", "step_squared")] == "eval"
    # live NC recorded at 7, 14, 21 (not at 0: nothing trained yet); eval MIR also at 0
    assert sorted({s for s, sp, m, *_ in scalars if m == "rnc1"}) == [7, 14, 21]
    assert sorted({s for s, sp, m, *_ in scalars if m == "mir"}) == [0, 7, 14, 21]
    with run.store(readonly=True) as store:
        meta = store.meta()
    assert meta["steps_completed"] == 24
    assert {"forward", "mi", "nc_live", "store"} <= set(meta["monitor_times"])


def test_a_crash_then_resume_records_exactly_what_an_uninterrupted_run_does(
    tmp_path: Path,
) -> None:
    config = build_config(ToyConfig)
    reference = _fresh(tmp_path, "ref", config)
    RunLoop(Toy(), config, reference).run()

    crashed = _fresh(tmp_path, "crashed", config)

    def crash_at_12(step: int, total: int) -> None:
        if step == 12:  # checkpoint at 10; live NC has taken steps 8-12 since its record at 7
            raise Crash

    with pytest.raises(Crash):
        RunLoop(Toy(), config, crashed, progress=crash_at_12).run()
    with crashed.store(readonly=True) as store:
        assert store.last_step() == 12  # records after the checkpoint exist, to be redone
    RunLoop(Toy(), config, crashed).run()
    assert _records(crashed) == _records(reference)


def test_live_probes_need_the_step_labels(tmp_path: Path) -> None:
    config = build_config(ToyConfig)
    toy = Toy()
    toy.live_labels = False
    with pytest.raises(RuntimeError, match="train_step returned no labels"):
        RunLoop(toy, config, _fresh(tmp_path, "a", config)).run()
