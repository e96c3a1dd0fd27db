"""What a metric needs from a forward pass, and the hooks that collect it.

A metric declares, in a class attribute ``inputs``, which captured quantities its ``update``
takes, by keyword:

========================  ==========================================================
``features``              input of the feature layer (default: the classifier head's input)
``head_weight``           the classifier head's weight, (C, d), as used by that forward pass
``head_bias``             the classifier head's bias, (C,) (zeros when it has none)
``inputs``                the batch's model inputs
``labels``                the batch's integer labels
``logits``                the model's output
``activations``           {name: output} of the modules the metric lists in ``layers``
                          (conv maps reduced to channel means)
========================  ==========================================================

:class:`ModelTap` hooks a model once for the union of what a set of metrics needs. The same tap
serves a separate evaluation pass (:func:`infodyn.evaluate`) and the training passes
themselves (live capture): everything is captured detached, and the head's weight is copied
when the head runs, so an optimizer step taken before the metrics are fed changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle
from torchmetrics import Metric

from infodyn.capture import ActivationCapture, _module_by_name, find_classifier_head

__all__ = [
    "CAPTURED_INPUTS",
    "ModelTap",
    "eval_mode",
    "metric_inputs",
    "metric_layers",
    "model_device",
]

CAPTURED_INPUTS = (
    "features",
    "head_weight",
    "head_bias",
    "inputs",
    "labels",
    "logits",
    "activations",
)


def metric_inputs(metric: Metric) -> tuple[str, ...]:
    """The captured quantities ``metric.update`` takes; a clear error if it declares none.

    Example:
        >>> from infodyn.metrics import MatrixInformation
        >>> metric_inputs(MatrixInformation())
        ('features', 'head_weight', 'labels')
    """
    inputs = getattr(metric, "inputs", None)
    if not inputs or any(name not in CAPTURED_INPUTS for name in inputs):
        raise ValueError(
            f"{type(metric).__name__} must declare a class attribute `inputs` naming "
            f"what its update() takes, from {CAPTURED_INPUTS}; got {inputs!r}"
        )
    return tuple(inputs)


def metric_layers(metric: Metric) -> tuple[str, ...]:
    """Modules whose outputs ``metric`` reads as ``activations`` (none if it reads none)."""
    if "activations" not in metric_inputs(metric):
        return ()
    return tuple(getattr(metric, "layers", ()))


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; its own mode is restored after, also on an error.

    Example:
        >>> net = nn.Sequential(nn.Dropout(0.5)).train()
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


class ModelTap:
    """Hooks on ``model`` that collect, per forward pass, what ``metrics`` declare they need.

    Args:
        model: The network.
        metrics: The metrics to feed; each declares ``inputs`` (and ``layers`` if it reads
            activations).
        features: Module whose *input* is the feature matrix; default the classifier head.
        head: Module whose ``weight`` is the classifier head; default the last ``nn.Linear``.

    Use it as a context manager around forward passes; after each pass call :meth:`feed` with
    that pass's inputs and labels. Hooks are removed on leaving the block, also on an error.

    Example:
        >>> from infodyn.metrics import MatrixInformation
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        >>> metric = MatrixInformation()
        >>> x, y = torch.randn(16, 4), torch.arange(16) % 3
        >>> with ModelTap(net, [metric]) as tap:
        ...     _ = net(x)
        ...     tap.feed({"mi": metric}, x, y)
        >>> sorted(metric.compute())
        ['entropy_features', 'entropy_head', 'hdr', 'mir', 'mutual_information']
    """

    def __init__(
        self,
        model: nn.Module,
        metrics: Sequence[Metric],
        *,
        features: str | None = None,
        head: str | None = None,
    ) -> None:
        self.model = model
        self.head_name = head if head is not None else find_classifier_head(model)[0]
        head_module = _module_by_name(model, self.head_name, "head")
        weight = getattr(head_module, "weight", None)
        if not isinstance(weight, Tensor) or weight.ndim != 2:
            raise ValueError(
                f"head: module {self.head_name!r} has no 2-D `weight`; name a Linear layer"
            )
        self._head_module = head_module
        self.features_name = features if features is not None else self.head_name
        _module_by_name(model, self.features_name, "features")
        needs = {name for metric in metrics for name in metric_inputs(metric)}
        self._needs_head = bool(needs & {"head_weight", "head_bias"})
        self._needs_logits = "logits" in needs
        self._needs_features = "features" in needs
        layers = sorted({layer for metric in metrics for layer in metric_layers(metric)})
        self._capture = ActivationCapture(
            model,
            layers,
            inputs=[self.features_name] if self._needs_features else [],
            reduction="channel_mean",
        )
        self._handles: list[RemovableHandle] = []
        #: Wall time of each metric's ``update`` in :meth:`feed`, by name.
        self.seconds: dict[str, float] = {}
        self._head: tuple[Tensor, Tensor] | None = None
        self._logits: Tensor | None = None

    def _save_head(self, module: nn.Module, _args: tuple[Any, ...]) -> None:
        weight = getattr(module, "weight")  # noqa: B009  (checked 2-D in __init__)
        assert isinstance(weight, Tensor)
        weight = weight.detach().clone()
        bias = getattr(module, "bias", None)
        if isinstance(bias, Tensor):
            bias = bias.detach().clone()
        else:
            bias = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
        self._head = (weight, bias)

    def _save_logits(self, _module: nn.Module, _args: tuple[Any, ...], output: Any) -> None:
        # A call returning nothing is no forward pass of logits: Lightning's DDP wrapper runs
        # validation_step through the module's __call__, whose hooks then see None.
        if output is None:
            return
        self._logits = output.detach() if isinstance(output, Tensor) else output

    def __enter__(self) -> ModelTap:
        self._capture.attach()
        if self._needs_head:
            self._handles.append(self._head_module.register_forward_pre_hook(self._save_head))
        if self._needs_logits:
            self._handles.append(self.model.register_forward_hook(self._save_logits))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._capture.remove()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._head = None
        self._logits = None

    def quantities(self, inputs: Any, labels: Tensor) -> dict[str, Any]:
        """Everything captured from the last forward pass, by the names metrics declare."""
        available: dict[str, Any] = {
            "inputs": inputs,
            "labels": labels,
            "activations": dict(self._capture.outputs()),
        }
        if self._needs_features:
            available["features"] = self._capture.input(self.features_name)
        if self._head is not None:
            available["head_weight"], available["head_bias"] = self._head
        if self._logits is not None:
            available["logits"] = self._logits
        return available

    def feed(self, metrics: Mapping[str, Metric], inputs: Any, labels: Tensor) -> None:
        """Update each metric with what it declares, from the last forward pass.

        What was captured is then forgotten, so feeding twice without a forward pass between
        is an error rather than a silent repeat. :attr:`seconds` accumulates the wall time of
        each metric's ``update``, by name.
        """
        available = self.quantities(inputs, labels)
        self._capture.clear()
        self._head = self._logits = None
        for name, metric in metrics.items():
            needs = metric_inputs(metric)
            missing = [k for k in needs if k not in available]
            if missing:
                raise RuntimeError(
                    f"{type(metric).__name__} needs {missing}, which the last forward pass did "
                    f"not produce; feed() must follow a forward pass of the tapped model"
                )
            start = time.perf_counter()
            metric.update(**{k: available[k] for k in needs})
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
