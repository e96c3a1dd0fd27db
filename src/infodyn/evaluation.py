"""``evaluate``: one forward pass per batch feeds every given metric; their values come back."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from infodyn.tap import ModelTap, eval_mode, model_device

__all__ = ["Evaluated", "evaluate", "evaluate_pass", "evaluate_timed"]


def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[Any, Tensor]],
    metrics: Mapping[str, Metric],
    *,
    features: str | None = None,
    head: str | None = None,
) -> dict[str, Any]:
    """Measure ``metrics`` on ``model`` over ``batches`` in one pass, in eval mode.

    Each batch ``(inputs, labels)`` goes through the model once, under ``torch.no_grad`` and
    with the model in eval mode (dropout off, BatchNorm on its running statistics; the mode is
    restored afterwards, also on an error). Hooks capture the union of what the metrics
    declare in ``inputs`` (see :mod:`infodyn.tap`) and every metric is updated from that one
    pass. The metrics' states are moved to the model's device first, so a metric built on the
    CPU streams a CUDA model's features without mixing devices.

    Args:
        model: The network; the classifier head is its last ``nn.Linear`` unless ``head``
            names one.
        batches: ``(inputs, labels)`` pairs, e.g. a ``DataLoader``; inputs on the model's
            device.
        metrics: ``{name: metric}``; each declares ``inputs`` (and ``layers`` for
            activations).
        features: Module whose *input* is the feature matrix (default: the head).
        head: Module whose ``weight`` holds one row per class (default: the last Linear).

    Returns:
        ``{name: metric.compute()}``. Each metric is reset afterwards, ready for the next call.

    Raises:
        ValueError: No batch was given, or a name does not resolve (the message lists close
            matches).

    Example:
        >>> from infodyn.metrics import MatrixInformation, NeuralCollapse
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        >>> x, y = torch.randn(60, 4), torch.arange(60) % 3
        >>> values = evaluate(net, [(x[:30], y[:30]), (x[30:], y[30:])],
        ...                   {"mi": MatrixInformation(), "nc": NeuralCollapse(num_classes=3)})
        >>> 0 <= float(values["mi"]["mir"]) <= 1, "rnc1" in values["nc"]
        (True, True)
    """
    return evaluate_timed(model, batches, metrics, features=features, head=head)[0]


def evaluate_timed(
    model: nn.Module,
    batches: Iterable[tuple[Any, Tensor]],
    metrics: Mapping[str, Metric],
    *,
    features: str | None = None,
    head: str | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """:func:`evaluate`, also returning the seconds each metric spent in update + compute."""
    evaluated = evaluate_pass(model, batches, metrics, features=features, head=head)
    if evaluated.batches == 0:
        raise ValueError("batches is empty; pass at least one (inputs, labels) batch")
    return evaluated.values, evaluated.seconds


@dataclass(frozen=True)
class Evaluated:
    """What one evaluation pass gave: ``values`` by metric, ``seconds`` by metric (update and
    compute), the ``samples`` and ``batches`` seen."""

    values: dict[str, Any]
    seconds: dict[str, float]
    samples: int
    batches: int


def evaluate_pass(
    model: nn.Module,
    batches: Iterable[tuple[Any, Tensor]],
    metrics: Mapping[str, Metric],
    *,
    features: str | None = None,
    head: str | None = None,
    batch_limit: Mapping[str, int] | None = None,
) -> Evaluated:
    """The pass behind :func:`evaluate`; ``batch_limit[name] = k`` feeds metric ``name`` only
    the first k batches (the others see every batch)."""
    limit = dict(batch_limit or {})
    device = model_device(model)
    for metric in metrics.values():
        metric.to(device)
    tap = ModelTap(model, list(metrics.values()), features=features, head=head)
    samples = seen = 0
    with torch.no_grad(), eval_mode(model), tap:
        for inputs, labels in batches:
            model(inputs)
            due = {n: m for n, m in metrics.items() if seen < limit.get(n, seen + 1)}
            tap.feed(due, inputs, labels)
            samples += int(labels.shape[0])
            seen += 1
    results: dict[str, Any] = {}
    seconds = dict(tap.seconds)
    if seen == 0:
        return Evaluated(results, seconds, 0, 0)
    for name, metric in metrics.items():
        start = time.perf_counter()
        results[name] = metric.compute()
        metric.reset()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
    return Evaluated(results, seconds, samples, seen)
