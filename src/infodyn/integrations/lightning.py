"""``InfodynCallback``: infodyn's families recorded from a Lightning ``Trainer``.

Needs the ``lightning`` package (``pip install infodyn[lightning]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torchmetrics import Metric

try:
    import lightning.pytorch as pl
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "infodyn.integrations.lightning needs the lightning package: pip install infodyn[lightning]"
    ) from error

from infodyn.batches import BatchFn, default_batch_fn, to_device
from infodyn.families import (
    Family,
    MeasureCaps,
    choose_families,
    num_classes_of,
    plan_families,
)
from infodyn.layer_trace import trace_layers
from infodyn.metrics import load_metric_state_dict, metric_state_dict
from infodyn.monitor import records_of
from infodyn.rundir import NotARunDirectoryError, RunDir
from infodyn.schedules import Schedule
from infodyn.sinks.base import RecordSink, Sinks
from infodyn.store import Array, Scalar
from infodyn.tap import ModelTap

__all__ = ["InfodynCallback"]

Mode = Literal["eval", "live"]


class InfodynCallback(pl.Callback):
    """Record infodyn's families while a Lightning ``Trainer`` fits a classifier.

    **Eval mode** (default): the metrics ride on the validation loop itself — hooks capture
    what they need from the forward pass your ``validation_step`` makes (it must call the
    module's ``forward`` on the batch inputs once), no second pass. Values are recorded at
    the end of every validation run whose ``trainer.global_step`` the schedule accepts (every
    run by default; the sanity check is skipped), split ``"val"``, first validation loader.
    **Live mode**: the metrics take the training batches' forward passes (detached) and
    record under split ``"train"`` when the schedule fires after a training batch, or by
    default at the end of every training epoch, over the batches since the last record.

    Under DDP every rank feeds its own batches; ``compute`` reduces the metric states across
    ranks (TorchMetrics' sync) and only global rank 0 writes the run directory ``out`` (a
    store, ``config.json``, figures and ``report.html`` drawn at fit end). Exact reductions
    (sums, gathered samples) give the single-process values: neural collapse, D_LR and pooled
    matrix information with caps above the sample count. Per-batch and order-dependent
    quantities — matrix information's per-batch mean, TE's time axis — read the batches each
    rank saw.

    A ``Trainer`` resumed from a checkpoint (``fit(ckpt_path=...)``) continues the same run
    directory: records after the checkpoint's step are dropped and measured again. A live
    window cut by a mid-epoch checkpoint restarts at the resume.

    Args:
        families: ``"all"``, some of ``"matrix"``, ``"te"``, ``"collapse"``, ``"richness"``
            (:mod:`infodyn.families`), or your own ``{name: metric}`` (each declaring its
            ``inputs``).
        schedule: When to record, as a function of ``trainer.global_step`` (e.g.
            :func:`infodyn.every`); None: every validation run (eval) / epoch end (live).
        out: The run directory (created; an existing one is continued).
        mode: ``"eval"`` or ``"live"``.
        num_classes, layers, features, head: As in :func:`infodyn.measure`; module names are
            relative to the ``LightningModule``.
        batch_fn: ``batch -> (inputs, labels)`` for batches that are not ``(x, y)``/dicts.
        caps: Sample caps of the families (:class:`~infodyn.families.MeasureCaps`).
        sinks: Also send every record to these (TensorBoard, MLflow: :mod:`infodyn.sinks`).
    """

    def __init__(
        self,
        families: str | Sequence[str] | Mapping[str, Metric] = "all",
        schedule: Schedule | None = None,
        *,
        out: str | Path = "infodyn",
        mode: Mode = "eval",
        num_classes: int | None = None,
        layers: Sequence[str] | None = None,
        features: str | None = None,
        head: str | None = None,
        batch_fn: BatchFn | None = None,
        caps: MeasureCaps | None = None,
        sinks: Sequence[RecordSink] = (),
    ) -> None:
        if mode not in ("eval", "live"):
            raise ValueError(f"mode must be 'eval' or 'live', got {mode!r}")
        self.own_metrics: dict[str, Metric] | None = None
        self.families: tuple[Family, ...] = ()
        self._named = False
        if isinstance(families, Mapping):
            self.own_metrics = dict(families)
        else:
            self.families, self._named = choose_families(families)
        self.schedule = schedule
        self.out = Path(out)
        self.mode: Mode = mode
        self.num_classes, self.layers = num_classes, layers
        self.features, self.head = features, head
        self.batch_fn = batch_fn if batch_fn is not None else default_batch_fn
        self.caps = caps if caps is not None else MeasureCaps()
        self.sinks = Sinks(sinks)
        self.metrics: dict[str, Metric] | None = None
        self.batch_limit: dict[str, int] = {}
        self.run: RunDir | None = None
        self._tap: ModelTap | None = None
        self._batches = 0
        self._active = False  # recording the validation run in progress
        self._resume_step: int | None = None
        self._saved_metrics: dict[str, Any] | None = None

    # -- building -------------------------------------------------------------------------

    def _build(self, module: nn.Module, inputs: Any) -> None:
        trace = trace_layers(module, inputs)
        head = self.head = trace.classifier_head(self.head)
        if self.own_metrics is not None:
            self.metrics = self.own_metrics
        else:
            classes = num_classes_of(module, head, self.num_classes)
            plan = plan_families(
                self.families,
                self._named,
                te_layers=trace.te_layers(head, self.layers),
                traced=trace.order,
                head=head,
                classes=classes,
                caps=self.caps,
                total=None,
            )
            self.metrics = {name: metric for name, (_, metric) in plan.metrics.items()}
            self.batch_limit = plan.batch_limit
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        for name, metric in self.metrics.items():
            if self._saved_metrics is not None and name in self._saved_metrics:
                load_metric_state_dict(metric, self._saved_metrics[name])
            metric.to(device)
        self._saved_metrics = None

    def _open_tap(self, module: nn.Module, batch: Any) -> None:
        if self.metrics is None:
            inputs, _ = self.batch_fn(batch)
            self._build(module, to_device(inputs, module.device))  # type: ignore[arg-type]
        assert self.metrics is not None
        self._tap = ModelTap(
            module, list(self.metrics.values()), features=self.features, head=self.head
        )
        self._tap.__enter__()

    def _feed(self, batch: Any) -> None:
        assert self._tap is not None and self.metrics is not None
        inputs, labels = self.batch_fn(batch)
        due = {
            name: metric
            for name, metric in self.metrics.items()
            if self._batches < self.batch_limit.get(name, self._batches + 1)
        }
        self._tap.feed(due, inputs, labels)
        self._batches += 1

    def _close_tap(self) -> None:
        if self._tap is not None:
            self._tap.__exit__(None, None, None)
            self._tap = None

    # -- recording ------------------------------------------------------------------------

    def _record(self, trainer: pl.Trainer, split: str) -> None:
        """Compute every metric on every rank (the reduction), write on rank 0, reset."""
        assert self.metrics is not None
        if self._batches == 0:
            return
        step = int(trainer.global_step)
        features_layer = f"{self.features or self.head}:input"
        scalars: list[Scalar] = []
        arrays: list[Array] = []
        for metric in self.metrics.values():
            value = metric.compute()
            metric.reset()
            rows = records_of(metric, value, features_layer, step=step, split=split, mode=self.mode)
            scalars += rows[0]
            arrays += rows[1]
        self._batches = 0
        if trainer.is_global_zero and self.run is not None:
            with self.run.store() as store:
                store.write(scalars, arrays)
            self.sinks.write(scalars, arrays)

    def _due(self, trainer: pl.Trainer) -> bool:
        return self.schedule is None or bool(self.schedule(int(trainer.global_step)))

    # -- Lightning hooks --------------------------------------------------------------------

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.run = self._open_run(pl_module)
        with self.run.store() as store:
            if self._resume_step is not None:
                store.truncate_after(self._resume_step)
            state = dict(store.meta().get("sinks", {}))
            self.sinks.start(self.run.root.name, self.run.config(), state)
            store.set_meta("sinks", state)

    def _open_run(self, pl_module: pl.LightningModule) -> RunDir:
        try:
            return RunDir.open(self.out)
        except NotARunDirectoryError:
            pass
        hparams = {k: _plain(v) for k, v in dict(getattr(pl_module, "hparams", {})).items()}
        config = {
            "experiment": "lightning",
            "module": type(pl_module).__name__,
            "families": _names(self.families, self.own_metrics),
            "mode": self.mode,
            "hparams": hparams,
        }
        return RunDir.create(self.out, config)

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.mode == "eval" and not trainer.sanity_checking and self._due(trainer):
            self._batches = 0
            self._active = True
        else:
            self._active = False

    def on_validation_batch_start(
        self,
        trainer: pl.Trainer,
        pl_module: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._active and dataloader_idx == 0:
            self._open_tap(pl_module, batch)

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._tap is not None:
            try:
                self._feed(batch)
            finally:
                self._close_tap()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self._active:
            self._active = False
            self._record(trainer, "val")

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.mode == "live":
            self._open_tap(pl_module, batch)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._tap is None:
            return
        try:
            self._feed(batch)
        finally:
            self._close_tap()
        if self.schedule is not None and self._due(trainer):
            self._record(trainer, "train")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.mode == "live" and self.schedule is None and self.metrics is not None:
            self._record(trainer, "train")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._close_tap()
        if not trainer.is_global_zero or self.run is None:
            return
        from infodyn.report import write_report
        from infodyn.runner import summarize_run
        from infodyn.viz import draw_run_figures

        summary = summarize_run(self.run)
        figures = draw_run_figures(self.run, summary)
        report = write_report(self.run, summary, redraw=False)
        self.sinks.finish(figures, [report, self.run.store_path])
        self.sinks.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: Any, exception: BaseException) -> None:
        self._close_tap()

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: Any, checkpoint: dict[str, Any]
    ) -> None:
        self._resume_step = int(checkpoint.get("global_step", 0))

    def state_dict(self) -> dict[str, Any]:
        """The run directory and every metric's state (e.g. NC4's previous class means)."""
        state: dict[str, Any] = {"out": str(self.out)}
        if self.metrics is not None:
            state["metrics"] = {n: metric_state_dict(m) for n, m in self.metrics.items()}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.out = Path(state_dict.get("out", self.out))
        self._saved_metrics = state_dict.get("metrics")


def _names(families: Sequence[str], own: Mapping[str, Metric] | None) -> list[str]:
    return list(families) if own is None else sorted(own)


def _plain(value: Any) -> Any:
    """A hyperparameter as JSON can hold it (tensors and other objects become text)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)
