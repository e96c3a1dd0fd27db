"""Record sinks: TensorBoard and MLflow read back equal to the run store; a failing sink costs
only a warning."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.rundir import RunDir
from infodyn.runner import execute, prepare_run
from infodyn.sinks import RecordSink
from infodyn.sinks.mlflow import mlflow_key
from infodyn.store import Array, Scalar

TINY = [
    "steps=30",
    "data.modulus=11",
    "model.embed_dim=8",
    "model.hidden_dim=32",
    "monitor.points=6",
    "monitor.eval_samples=40",
    "monitor.eval_batch=20",
    "monitor.log_every=5",
    "monitor.checkpoint_every=10",
    "threads=1",
]
runner = CliRunner()


def _stored(run_dir: Path) -> dict[tuple[int, str, str, str], float]:
    with RunDir.open(run_dir).store(readonly=True) as store:
        return {(r.step, r.split, r.metric, r.layer): r.value for r in store.scalars()}


def _cli_run(out: Path, *extra: str) -> Path:
    sets = [arg for item in TINY for arg in ("--set", item)]
    result = runner.invoke(app, ["run", "grokking", *sets, "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and p.name.startswith("grokking")]
    return run_dir


def test_tensorboard_holds_every_scalar_of_the_store_and_the_figures(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = _cli_run(tmp_path / "runs", "--tensorboard", str(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb" / run_dir.name), size_guidance={"scalars": 0})
    events.Reload()
    stored = _stored(run_dir)
    tags = set(events.Tags()["scalars"])
    read_back = {}
    for tag in tags:
        split, metric, *layer = tag.split("/", 2)
        for event in events.Scalars(tag):
            read_back[(event.step, split, metric, layer[0] if layer else "")] = event.value
    assert read_back.keys() == stored.keys()
    for key, value in stored.items():
        assert read_back[key] == pytest.approx(value, rel=1e-6, abs=1e-30)  # float32 events
    assert {"figures/training", "figures/matrix_information"} <= set(events.Tags()["images"])
    with RunDir.open(run_dir).store(readonly=True) as store:
        arrays = {f"{a.split}/{a.metric}/{a.layer}" for a in store.arrays() if a.value.size > 1}
    assert arrays and set(events.Tags()["histograms"]) == arrays  # D_LR's curves


def test_mlflow_holds_every_scalar_params_and_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps file stores opt-in
    uri = (tmp_path / "mlruns").as_uri()
    run_dir = _cli_run(tmp_path / "runs", "--mlflow", uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("grokking")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params["optim.weight_decay"] == "1.0"
    assert run.data.params["steps"] == "30"
    stored = _stored(run_dir)
    keys = {mlflow_key(split, metric, layer) for _, split, metric, layer in stored}
    assert keys == set(run.data.metrics)
    for key in keys:
        history = {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
        expected = {s: v for (s, sp, m, la), v in stored.items() if mlflow_key(sp, m, la) == key}
        assert history == pytest.approx(expected)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"figures", "report.html", "run.sqlite"} <= artifacts
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/training.png" in figures
    with RunDir.open(run_dir).store(readonly=True) as store:
        assert store.meta()["sinks"] == {"mlflow_run_id": run.info.run_id}


class Broken(RecordSink):
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        self.calls += 1
        raise OSError("disk full")


class Collecting(RecordSink):
    name = "collecting"

    def __init__(self) -> None:
        self.scalars: list[Scalar] = []
        self.started: dict[str, object] = {}
        self.finished: list[Path] = []

    def start(self, run_name: str, config: object, state: dict[str, object]) -> None:
        self.started = {"run": run_name, "calls": int(state.get("calls", 0)) + 1}  # type: ignore[call-overload]
        state["calls"] = self.started["calls"]

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        self.scalars.extend(scalars)

    def finish(self, figures: Sequence[Path], artifacts: Sequence[Path]) -> None:
        self.finished = [*figures, *artifacts]


def test_a_failing_sink_is_one_warning_and_loses_no_record(tmp_path: Path) -> None:
    run, config = prepare_run("grokking", overrides=TINY, out=tmp_path / "a")
    broken, collecting = Broken(), Collecting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        execute(run, config, sinks=[broken, collecting])
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    first = "sink broken failed in write: OSError: disk full; the run store has every record"
    assert messages.count(first) == 1 and broken.calls > 1
    assert any("sinks failed repeatedly: {'broken'" in m for m in messages)
    plain, plain_config = prepare_run("grokking", overrides=TINY, out=tmp_path / "b")
    execute(plain, plain_config)
    stored = _stored(run.root)
    assert stored == _stored(plain.root)  # the same records as a run without sinks
    # the healthy sink saw every record once, then the figures, the report and the store
    seen = {(r.step, r.split, r.metric, r.layer): r.value for r in collecting.scalars}
    assert len(collecting.scalars) == len(stored) and seen.keys() == stored.keys()
    assert np.allclose([seen[k] for k in stored], list(stored.values()), equal_nan=True)
    assert run.report_path in collecting.finished and run.store_path in collecting.finished
    # the state a sink keeps survives into a resumed session
    again = Collecting()
    execute(run, config, sinks=[again])
    assert again.started == {"run": run.root.name, "calls": 2}
