"""The monitor: model × metrics × schedule → records in a run store.

The monitor knows no metric family. A metric is any ``torchmetrics.Metric`` that declares, in
a class attribute ``inputs``, which captured quantities its ``update`` takes, by keyword:

========================  ==========================================================
``features``              input of the feature layer (default: the classifier head's input)
``head_weight``           the classifier head's weight, (C, d)
``head_bias``             the classifier head's bias, (C,) (zeros when it has none)
``inputs``                the batch's model inputs, as given to ``measure``
``labels``                the batch's integer labels
``logits``                the model's output
``activations``           {name: output} of the modules the metric lists in ``layers``
                          (conv maps reduced to channel means)
========================  ==========================================================

One forward pass per batch feeds every metric that is due at that step. ``compute`` returns
named tensors, ``{metric: value}``, recorded under the feature layer when the metric reads
``features``; or nested, ``{layer: {metric: value}}``, recorded under each outer key (e.g. a
layer pair ``"fc1->fc2"``). One-element tensors become scalar records, others arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from infodyn.capture import ActivationCapture, _module_by_name, find_classifier_head
from infodyn.schedules import Schedule
from infodyn.store import Array, RunStore, Scalar

CAPTURED_INPUTS = (
    "features",
    "head_weight",
    "head_bias",
    "inputs",
    "labels",
    "logits",
    "activations",
)


@dataclass
class Probe:
    """A metric attached to a monitor, with the schedule on which it is measured."""

    metric: Metric
    schedule: Schedule

    @property
    def inputs(self) -> tuple[str, ...]:
        """The captured quantities the metric's ``update`` takes, by keyword."""
        return tuple(getattr(self.metric, "inputs", ()))

    @property
    def layers(self) -> tuple[str, ...]:
        """Modules whose outputs the metric reads as ``activations``."""
        return tuple(getattr(self.metric, "layers", ())) if "activations" in self.inputs else ()

    def __post_init__(self) -> None:
        inputs = getattr(self.metric, "inputs", None)
        if not inputs or any(name not in CAPTURED_INPUTS for name in inputs):
            raise ValueError(
                f"{type(self.metric).__name__} must declare a class attribute `inputs` naming "
                f"what its update() takes, from {CAPTURED_INPUTS}; got {inputs!r}"
            )


class Monitor:
    """Measure attached metrics on a schedule and write every value to a :class:`RunStore`.

    Args:
        model: the network being trained.
        store: where records go; written in one transaction per :meth:`flush`.
        probes: metrics with their schedules, keyed by a short name.
        features: module whose *input* is the feature matrix; default the classifier head
            (the last ``nn.Linear``), whose input is the penultimate feature.
        head: module whose ``weight`` is the classifier head; default the last ``nn.Linear``.

    The monitor times itself: :attr:`elapsed_s` is the wall time spent inside its methods.
    """

    def __init__(
        self,
        model: nn.Module,
        store: RunStore,
        probes: Mapping[str, Probe],
        *,
        features: str | None = None,
        head: str | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.probes = dict(probes)
        head_name = head if head is not None else find_classifier_head(model)[0]
        head_module = _module_by_name(model, head_name, "head")
        weight = getattr(head_module, "weight", None)
        if not isinstance(weight, Tensor) or weight.ndim != 2:
            raise ValueError(f"head: module {head_name!r} has no 2-D `weight`; name a Linear layer")
        self.head_name = head_name
        self.features_name = features if features is not None else head_name
        _module_by_name(model, self.features_name, "features")
        # Records name where their features came from: "<module>:input" (e.g. "head:input").
        self.features_layer = f"{self.features_name}:input"
        for probe in self.probes.values():
            for layer in probe.layers:
                _module_by_name(model, layer, "layers")
        self.elapsed_s = 0.0
        self._pending: list[Scalar] = []
        self._pending_arrays: list[Array] = []

    def _head_weight(self) -> Tensor:
        weight = self.model.get_submodule(self.head_name).weight
        assert isinstance(weight, Tensor)  # checked in __init__
        return weight

    def _head_bias(self) -> Tensor:
        bias = getattr(self.model.get_submodule(self.head_name), "bias", None)
        if isinstance(bias, Tensor):
            return bias
        weight = self._head_weight()
        return torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)

    @contextmanager
    def _timed(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.elapsed_s += time.perf_counter() - start

    def due(self, step: int) -> list[str]:
        """Names of the probes whose schedule fires at ``step``."""
        return [name for name, probe in self.probes.items() if probe.schedule(step)]

    def measure(
        self, step: int, split: str, batches: Iterable[tuple[Tensor, Tensor]]
    ) -> dict[str, float]:
        """Run every probe due at ``step`` over ``batches`` of (inputs, labels); queue records.

        The model is put in eval mode under ``torch.no_grad`` and restored afterwards.
        Returns the scalar values measured, keyed by metric name.
        """
        due = self.due(step)
        if not due:
            return {}
        with self._timed():
            metrics = [self.probes[name].metric for name in due]
            inputs = [self.probes[name].inputs for name in due]
            head_weight = self._head_weight().detach()
            head_bias = self._head_bias().detach()
            was_training = self.model.training
            self.model.eval()
            try:
                layers = sorted({name for p in (self.probes[n] for n in due) for name in p.layers})
                capture = ActivationCapture(
                    self.model, layers, inputs=[self.features_name], reduction="channel_mean"
                )
                with torch.no_grad(), capture as cap:
                    for x, y in batches:
                        logits = self.model(x)
                        available = {
                            "features": cap.input(self.features_name),
                            "head_weight": head_weight,
                            "head_bias": head_bias,
                            "inputs": x,
                            "labels": y,
                            "logits": logits,
                            "activations": dict(cap.outputs()),
                        }
                        for metric, needs in zip(metrics, inputs, strict=True):
                            metric.update(**{k: available[k] for k in needs})
            finally:
                self.model.train(was_training)
            measured: dict[str, float] = {}
            for metric, needs in zip(metrics, inputs, strict=True):
                default_layer = self.features_layer if "features" in needs else ""
                for layer, key, value in _records(metric.compute(), default_layer):
                    if value.numel() == 1:
                        measured[f"{key}@{layer}" if layer != default_layer else key] = float(value)
                        self._pending.append(Scalar(step, split, key, float(value), layer))
                    else:
                        array = value.detach().cpu().numpy()
                        self._pending_arrays.append(Array(step, split, key, array, layer))
                metric.reset()
            return measured

    def log(self, step: int, split: str, values: Mapping[str, float], layer: str = "") -> None:
        """Queue scalar values computed by the training loop itself (loss, accuracy, …)."""
        with self._timed():
            self._pending.extend(Scalar(step, split, k, float(v), layer) for k, v in values.items())

    def flush(self) -> None:
        """Write every queued record in one transaction."""
        if not self._pending and not self._pending_arrays:
            return
        with self._timed():
            self.store.write(self._pending, self._pending_arrays)
            self._pending, self._pending_arrays = [], []


def _records(value: object, default_layer: str) -> Iterator[tuple[str, str, Tensor]]:
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
