"""The monitor: model × metrics × schedule → records in a run store.

The monitor knows no metric family. A metric is any ``torchmetrics.Metric`` that declares, in
a class attribute ``inputs``, which captured quantities its ``update`` takes (the list is in
:mod:`infodyn.tap`). Each metric is attached by a :class:`Probe` that says when it is measured
and how it is fed:

- ``mode="eval"`` (default): at a scheduled step, :meth:`Monitor.measure` runs a separate
  evaluation pass over the batches it is given (:func:`infodyn.evaluate`: model in eval mode,
  no gradients), one forward pass feeding every due metric.
- ``mode="live"``: the metric is fed from the training forward passes themselves, detached,
  with no second forward pass; batches in training order are its time axis (the transfer-
  entropy papers accumulate over training passes). The training loop wraps each step in
  :meth:`Monitor.live`; at a scheduled step the accumulated value is recorded and the metric
  reset. ``window=k`` accumulates only over the k training steps up to each scheduled step;
  the default accumulates over every step since the previous record.

``compute`` returns named tensors, ``{metric: value}``, recorded under the feature layer when
the metric reads ``features``; or nested, ``{layer: {metric: value}}``, recorded under each outer
key (e.g. a layer pair ``"fc1->fc2"``). One-element tensors become scalar records, others
arrays; every record carries its probe's mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn
from torchmetrics import Metric

from infodyn.capture import _module_by_name
from infodyn.evaluation import evaluate_timed
from infodyn.schedules import Schedule
from infodyn.sinks.base import RecordSink, Sinks
from infodyn.store import Array, Mode, RunStore, Scalar
from infodyn.tap import ModelTap, metric_inputs, metric_layers, model_device

__all__ = ["LiveStep", "Monitor", "Probe", "batches_of", "metric_records", "records_of"]


@dataclass
class Probe:
    """A metric attached to a monitor: when it is measured and how it is fed.

    Attributes:
        metric: Any ``torchmetrics.Metric`` declaring ``inputs``.
        schedule: Steps at which its value is recorded.
        mode: ``"eval"`` — a separate evaluation pass at each scheduled step; ``"live"`` — fed
            from the training forward passes, recorded at each scheduled step.
        window: Live only: accumulate over this many training steps up to each scheduled
            step (``1`` = the scheduled step's own batch); None accumulates over every step
            since the previous record.
    """

    metric: Metric
    schedule: Schedule
    mode: Mode = "eval"
    window: int | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        """The captured quantities the metric's ``update`` takes, by keyword."""
        return metric_inputs(self.metric)

    @property
    def layers(self) -> tuple[str, ...]:
        """Modules whose outputs the metric reads as ``activations``."""
        return metric_layers(self.metric)

    def __post_init__(self) -> None:
        metric_inputs(self.metric)
        if self.mode not in ("eval", "live"):
            raise ValueError(f"mode must be 'eval' or 'live', got {self.mode!r}")
        if self.window is not None:
            if self.mode != "live":
                raise ValueError("window applies to live probes only; drop it or use mode='live'")
            if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
                raise ValueError(f"window must be an int >= 1 or None, got {self.window!r}")

    def accumulates_at(self, step: int) -> bool:
        """Whether a live probe takes the training batch of ``step``."""
        if self.window is None:
            return True
        return any(self.schedule(s) for s in range(step, step + self.window))


@dataclass
class LiveStep:
    """Handle of one training step under :meth:`Monitor.live`; say which batch it trained on.

    Call :meth:`batch` after the step's forward pass with that pass's inputs and labels.
    """

    _probes: dict[str, Probe]
    _tap: ModelTap | None
    _given: list[tuple[Any, Tensor]] = field(default_factory=list)

    def batch(self, inputs: Any, labels: Tensor) -> None:
        """The inputs and labels of the forward pass just made (the live metrics' samples)."""
        if self._tap is not None:
            metrics = {name: p.metric for name, p in self._probes.items()}
            self._tap.feed(metrics, inputs, labels)
        self._given.append((inputs, labels))


class Monitor:
    """Measure attached metrics on a schedule and write every value to a :class:`RunStore`.

    Args:
        model: The network being trained.
        store: Where records go; written in one transaction per :meth:`flush`. None measures
            without recording: under DDP every rank must compute (the metric states are
            reduced across ranks when computed), and only rank 0 should write, so give the
            other ranks ``store=None``.
        probes: Metrics with their schedules and modes, keyed by a short name.
        features: Module whose *input* is the feature matrix; default the classifier head
            (the last ``nn.Linear``), whose input is the penultimate feature.
        head: Module whose ``weight`` is the classifier head; default the last ``nn.Linear``.
        sinks: Where every record also goes after it is in the store (TensorBoard, MLflow;
            :mod:`infodyn.sinks`); a failing sink is a warning, never a lost record.

    The metrics' states are moved to the model's device. The monitor times itself:
    :attr:`elapsed_s` is the wall time spent inside its methods, and :attr:`timings` splits it
    into each probe's share, the evaluation forward passes (``"forward"``) and the store
    (``"store"``).

    Example:
        >>> import tempfile, pathlib, torch
        >>> from infodyn.metrics import MatrixInformation
        >>> from infodyn.schedules import every
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
        >>> x, y = torch.randn(32, 4), torch.arange(32) % 3
        >>> with tempfile.TemporaryDirectory() as d:
        ...     store = RunStore(pathlib.Path(d) / "run.sqlite")
        ...     monitor = Monitor(net, store, {
        ...         "mi": Probe(MatrixInformation(), every(2)),
        ...         "mi_live": Probe(MatrixInformation(), every(2), mode="live")})
        ...     for step in range(1, 5):
        ...         with monitor.live(step, split="train-live") as live:
        ...             loss = torch.nn.functional.cross_entropy(net(x), y)
        ...             live.batch(x, y)
        ...             opt.zero_grad(); loss.backward(); opt.step()
        ...         _ = monitor.measure(step, "train", [(x, y)])
        ...         monitor.flush()
        ...     sorted({(r.split, r.mode) for r in store.scalars()})
        ...     store.close()
        [('train', 'eval'), ('train-live', 'live')]
    """

    def __init__(
        self,
        model: nn.Module,
        store: RunStore | None,
        probes: Mapping[str, Probe],
        *,
        features: str | None = None,
        head: str | None = None,
        sinks: Sinks | Sequence[RecordSink] = (),
    ) -> None:
        self.model = model
        self.store = store
        self.sinks = sinks if isinstance(sinks, Sinks) else Sinks(sinks)
        if store is None and self.sinks:
            raise ValueError(
                "sinks were given with store=None: records go to sinks only after the store; "
                "give rank 0 the store and the sinks, the other ranks neither"
            )
        self.probes = dict(probes)
        # Resolves and checks head/features/layers now, so a typo fails before training.
        tap = ModelTap(
            model, [p.metric for p in self.probes.values()], features=features, head=head
        )
        self.head_name, self.features_name = tap.head_name, tap.features_name
        for probe in self.probes.values():
            for layer in probe.layers:
                _module_by_name(model, layer, "layers")
        # Records name where their features came from: "<module>:input" (e.g. "head:input").
        self.features_layer = f"{self.features_name}:input"
        device = model_device(model)
        for probe in self.probes.values():
            probe.metric.to(device)
        self.elapsed_s = 0.0
        self.timings: dict[str, float] = {}
        self._fed: dict[str, int] = dict.fromkeys(self.probes, 0)
        self._pending: list[Scalar] = []
        self._pending_arrays: list[Array] = []

    def _charge(self, part: str, seconds: float) -> None:
        self.elapsed_s += seconds
        self.timings[part] = self.timings.get(part, 0.0) + seconds

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._charge(part, time.perf_counter() - start)

    def due(self, step: int, mode: Mode = "eval") -> list[str]:
        """Names of the probes of ``mode`` whose schedule fires at ``step``."""
        return [n for n, p in self.probes.items() if p.mode == mode and p.schedule(step)]

    def measure(
        self, step: int, split: str, batches: Iterable[tuple[Any, Tensor]]
    ) -> dict[str, float]:
        """Run every eval probe due at ``step`` over ``batches`` of (inputs, labels); queue records.

        One evaluation pass (:func:`infodyn.evaluate`) feeds every due metric. Returns the
        scalar values measured, keyed by metric name (``metric@layer`` off the feature layer).
        """
        due = self.due(step, "eval")
        if not due:
            return {}
        start = time.perf_counter()
        values, seconds = evaluate_timed(
            self.model,
            batches,
            {name: self.probes[name].metric for name in due},
            features=self.features_name,
            head=self.head_name,
        )
        spent = time.perf_counter() - start
        self._charge("forward", spent - sum(seconds.values()))
        for name, metric_seconds in seconds.items():
            self._charge(name, metric_seconds)
        measured: dict[str, float] = {}
        for name in due:
            with self._timed(name):
                measured.update(self._queue(name, values[name], step, split, "eval"))
        return measured

    @contextmanager
    def live(self, step: int, split: str = "train") -> Iterator[LiveStep]:
        """Wrap one training step so live probes take its forward pass; record those due.

        Inside the block, run the step (forward, backward, optimizer step) and call
        ``handle.batch(inputs, labels)`` after its forward pass. On leaving the block, every
        live probe whose schedule fires at ``step`` records its accumulated value under
        ``split`` (mode ``"live"``) and is reset. With no live probe taking this step, no hook
        is attached and the block costs nothing.
        """
        taking = [
            name for name, p in self.probes.items() if p.mode == "live" and p.accumulates_at(step)
        ]
        probes = [self.probes[name] for name in taking]
        if not probes:
            yield LiveStep({}, None)
        else:
            tap = ModelTap(
                self.model,
                [p.metric for p in probes],
                features=self.features_name,
                head=self.head_name,
            )
            handle = LiveStep(dict(zip(taking, probes, strict=True)), tap)
            with tap:
                yield handle
            for name in taking:
                self._fed[name] += len(handle._given)
            for name, seconds in tap.seconds.items():
                self._charge(name, seconds)
        for name in self.due(step, "live"):
            if self._fed[name] == 0:
                continue  # nothing trained on yet (e.g. step 0): no value to record
            with self._timed(name):
                self._queue(name, self.probes[name].metric.compute(), step, split, "live")
            self._fed[name] = 0

    def fed(self, name: str) -> int:
        """How many training batches live probe ``name`` has taken since its last record."""
        return self._fed[name]

    def restore_fed(self, name: str, batches: int) -> None:
        """Set :meth:`fed` of live probe ``name`` (when its metric state is restored on resume)."""
        self._fed[name] = batches

    def _queue(
        self, name: str, value: object, step: int, split: str, mode: Mode
    ) -> dict[str, float]:
        """Turn one metric's ``compute()`` into queued records; reset the metric."""
        probe = self.probes[name]
        scalars, arrays = records_of(
            probe.metric, value, self.features_layer, step=step, split=split, mode=mode
        )
        self._pending.extend(scalars)
        self._pending_arrays.extend(arrays)
        probe.metric.reset()
        default_layer = self.features_layer if "features" in probe.inputs else ""
        return {
            f"{r.metric}@{r.layer}" if r.layer != default_layer else r.metric: r.value
            for r in scalars
        }

    def log(
        self,
        step: int,
        split: str,
        values: Mapping[str, float],
        layer: str = "",
        mode: Mode = "eval",
    ) -> None:
        """Queue scalar values computed by the training loop itself (loss, accuracy, …).

        ``mode`` says how they were measured: ``"eval"`` for a separate evaluation pass,
        ``"live"`` for values of the training step itself (e.g. its batch loss).
        """
        with self._timed("store"):
            self._pending.extend(
                Scalar(step, split, k, float(v), layer, mode) for k, v in values.items()
            )

    def flush(self) -> None:
        """Write every queued record in one transaction (drop them without a store)."""
        if not self._pending and not self._pending_arrays:
            return
        if self.store is None:
            self._pending, self._pending_arrays = [], []
            return
        with self._timed("store"):
            self.store.write(self._pending, self._pending_arrays)
        if self.sinks:
            with self._timed("sinks"):
                self.sinks.write(self._pending, self._pending_arrays)
        self._pending, self._pending_arrays = [], []


def records_of(
    metric: Metric, value: object, features_layer: str, *, step: int, split: str, mode: Mode
) -> tuple[list[Scalar], list[Array]]:
    """Store records of ``metric``'s ``compute()`` result ``value``: one-element tensors as
    scalars, the rest as arrays; values without a layer of their own belong to
    ``features_layer`` when the metric reads features, else to no layer."""
    default_layer = features_layer if "features" in getattr(metric, "inputs", ()) else ""
    scalars: list[Scalar] = []
    arrays: list[Array] = []
    for layer, key, tensor in metric_records(value, default_layer):
        if tensor.numel() == 1:
            scalars.append(Scalar(step, split, key, float(tensor), layer, mode))
        else:
            arrays.append(Array(step, split, key, tensor.detach().cpu().numpy(), layer, mode))
    return scalars, arrays


def metric_records(value: object, default_layer: str) -> Iterator[tuple[str, str, Tensor]]:
    """(layer, metric, tensor) triples of a flat or layer-nested ``compute()`` result."""
    if not isinstance(value, Mapping):
        raise TypeError(
            "a monitored metric's compute() must return a dict of named tensors (or of such "
            f"dicts keyed by layer), got {type(value).__name__}"
        )
    for key, item in value.items():
        if isinstance(item, Mapping):
            for metric, tensor in item.items():
                yield key, metric, tensor
        else:
            yield default_layer, key, item


def batches_of(
    x: Tensor, y: Tensor, batch_size: int
) -> Callable[[], Iterator[tuple[Tensor, Tensor]]]:
    """A re-iterable source of (x, y) mini-batches in fixed order, for :meth:`Monitor.measure`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    def iterate() -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, x.shape[0], batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]

    return iterate
