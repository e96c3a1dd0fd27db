"""``MLflowSink``: scalars as MLflow metrics with steps, config as params, files as artifacts."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infodyn.sinks.base import RecordSink, record_tag
from infodyn.store import Array, Scalar

__all__ = ["MLflowSink", "mlflow_key"]

_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def mlflow_key(split: str, metric: str, layer: str = "") -> str:
    """A record's tag in the characters MLflow allows: ``->`` becomes ``-to-``, others ``_``.

    Example:
        >>> mlflow_key("test", "te_mean", "fc1->fc2"), mlflow_key("test", "mir", "head:input")
        ('test/te_mean/fc1-to-fc2', 'test/mir/head_input')
    """
    return _BAD.sub("_", record_tag(split, metric, layer).replace("->", "-to-"))


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]  # MLflow's limit on a param value
    return flat


class MLflowSink(RecordSink):
    """Mirror records into an MLflow run (``pip install infodyn[mlflow]``).

    At :meth:`start` it opens an MLflow run (in ``experiment``, named after the infodyn run)
    and logs the config, flattened with dots, as params; a resumed infodyn run continues the
    same MLflow run (its id is kept in the run store). Every scalar record becomes
    ``log_metric(key, value, step)`` with the key of :func:`mlflow_key`; array records stay
    in the store, which is uploaded whole with the figures and the report at the end.

    Args:
        tracking_uri: Where MLflow stores runs (default: MLflow's own default, e.g. the
            ``MLFLOW_TRACKING_URI`` environment variable).
        experiment: MLflow experiment name (default: MLflow's default experiment).
    """

    name = "mlflow"

    def __init__(self, tracking_uri: str | None = None, *, experiment: str | None = None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as error:
            raise ImportError("MLflowSink needs mlflow: pip install infodyn[mlflow]") from error
        self._client = MlflowClient(tracking_uri)
        self.experiment = experiment
        self.run_id: str | None = None

    def _experiment_id(self) -> str:
        if self.experiment is None:
            return "0"
        found = self._client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        return str(self._client.create_experiment(self.experiment))

    def start(self, run_name: str, config: Mapping[str, Any], state: dict[str, Any]) -> None:
        if state.get("mlflow_run_id"):
            self.run_id = str(state["mlflow_run_id"])
            self._client.update_run(self.run_id, status="RUNNING")
            return
        run = self._client.create_run(self._experiment_id(), run_name=run_name)
        self.run_id = run.info.run_id
        state["mlflow_run_id"] = self.run_id
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in _flat(config).items()]
        for start in range(0, len(params), 100):  # MLflow's batch limit on params
            self._client.log_batch(self.run_id, params=params[start : start + 100])

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        if self.run_id is None or not scalars:
            return
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        metrics = [
            Metric(mlflow_key(r.split, r.metric, r.layer), r.value, timestamp, r.step)
            for r in scalars
        ]
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit on metrics
            self._client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def finish(self, figures: Sequence[Path], artifacts: Sequence[Path]) -> None:
        if self.run_id is None:
            return
        for figure in figures:
            self._client.log_artifact(self.run_id, str(figure), artifact_path="figures")
        for artifact in artifacts:
            self._client.log_artifact(self.run_id, str(artifact))
        self._client.set_terminated(self.run_id)
