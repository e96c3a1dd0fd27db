"""Checkpoint the accumulated state of a metric mid-pass, and load it into a fresh one.

TorchMetrics keeps metric states out of ``state_dict()`` by default, and a stream's tail or a
remembered head are not TorchMetrics states at all. :func:`metric_state_dict` collects both, for
the metric and every metric nested in it, as plain tensors, so a run loop can save a live
(training-pass) metric with ``torch.save`` and resume it with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor
from torchmetrics import Metric

from infodyn.metrics._lazy import LazyWidthMetric

__all__ = ["load_metric_state_dict", "metric_state_dict"]

_COUNT_KEY = "_update_count"
MetricState = dict[str, Tensor | list[Tensor]]


def _metrics_in(metric: Metric) -> Iterator[tuple[str, Metric]]:
    """The metric and every metric nested in it, with the key prefix of each."""
    for name, module in metric.named_modules():
        if isinstance(module, Metric):
            yield (f"{name}." if name else ""), module


def _extras(module: Metric) -> tuple[str, ...]:
    return tuple(getattr(module, "_checkpoint_attributes", ()))


def metric_state_dict(metric: Metric) -> MetricState:
    """The accumulated state of ``metric`` (and of the metrics nested in it) as plain tensors.

    Keys are state names, prefixed with the nested metric's module path (e.g.
    ``"pairs.0.source_past"``). Values are detached copies: a tensor per tensor state, a list of
    tensors per list state (kept rows), the plain tensor attributes the metric declares as part
    of its state (e.g. a stream's last samples; left out while None), and ``"_update_count"``.
    States not yet sized (no batch seen) are saved as the empty tensors they are. The result
    holds nothing but tensors and lists of tensors, so it loads with
    ``torch.load(..., weights_only=True)``.

    Args:
        metric: any ``torchmetrics.Metric``; every infodyn metric round-trips exactly.

    Returns:
        A new dict; changing the metric afterwards does not change it.

    Raises:
        RuntimeError: if the metric is synced (inside ``compute`` or ``sync_context``), where
            its states hold every rank's values instead of its own.

    Example:
        >>> import io
        >>> from infodyn.metrics import TransferEntropy
        >>> x = torch.tensor([0, 1, 1, 1, 1, 0, 0, 0, 0])[:, None]
        >>> y = torch.tensor([0, 0, 1, 1, 1, 1, 0, 0, 0])[:, None]
        >>> live = TransferEntropy()
        >>> live.update(x[:4], y[:4])
        >>> buffer = io.BytesIO()
        >>> torch.save(metric_state_dict(live), buffer)
        >>> _ = buffer.seek(0)
        >>> resumed = TransferEntropy()
        >>> load_metric_state_dict(resumed, torch.load(buffer, weights_only=True))
        >>> resumed.update(x[4:], y[4:])
        >>> float(resumed.compute()["te"])  # as if never interrupted
        0.8112781244591328
    """
    out: MetricState = {}
    for prefix, module in _metrics_in(metric):
        if module._is_synced:
            raise RuntimeError(
                f"{type(module).__name__} is synced across ranks; take its state dict outside "
                f"compute() and sync_context(), where it holds this rank's own values"
            )
        for name, value in module.metric_state.items():
            if isinstance(value, Tensor):
                out[prefix + name] = value.detach().clone()
            else:
                out[prefix + name] = [v.detach().clone() for v in value]
        for name in _extras(module):
            extra = getattr(module, name)
            if extra is not None:
                out[prefix + name] = extra.detach().clone()
        out[prefix + _COUNT_KEY] = torch.tensor(module.update_count)
    return out


def load_metric_state_dict(metric: Metric, state: Mapping[str, Tensor | list[Tensor]]) -> None:
    """Replace the accumulated state of ``metric`` by ``state`` from :func:`metric_state_dict`.

    ``metric`` must be built with the same arguments as the one saved (mode, measures, layers,
    widths when given); a lazily sized metric takes its widths from the saved states. The
    metric is reset first, then every state is set — on ``metric.device``, so call
    ``.to(device)`` before or after loading — and further updates continue the saved pass as
    if it had never been interrupted.

    Args:
        metric: the metric to load into.
        state: a dict as returned by :func:`metric_state_dict` (e.g. after a ``torch.save`` /
            ``torch.load(weights_only=True)`` round trip).

    Raises:
        ValueError: if keys are missing or unexpected, a state is a list where a tensor is
            expected (or the reverse), or a dtype or shape does not fit the metric; the metric
            is left unchanged then.

    Example:
        >>> from infodyn.metrics import NeuralCollapse
        >>> saved = metric_state_dict(NeuralCollapse(3))  # no batch seen yet
        >>> fresh = NeuralCollapse(3)
        >>> load_metric_state_dict(fresh, saved)
        >>> fresh.lazy_widths()
        {}
    """
    _check_fits(metric, state)
    metric.reset()
    for prefix, module in _metrics_in(metric):
        device = module.device
        for name in module.metric_state:
            value = state[prefix + name]
            if isinstance(value, Tensor):
                setattr(module, name, value.detach().to(device).clone())
            else:
                setattr(module, name, [v.detach().to(device).clone() for v in value])
        for name in _extras(module):
            extra = state.get(prefix + name)
            if isinstance(extra, Tensor):
                extra = extra.detach().to(device).clone()
            setattr(module, name, extra)
        module._update_count = int(state[prefix + _COUNT_KEY])  # type: ignore[arg-type]
        module._computed = None


def _check_fits(metric: Metric, state: Mapping[str, Tensor | list[Tensor]]) -> None:
    """Raise ``ValueError`` unless ``state`` has exactly the keys, kinds, dtypes and shapes of
    ``metric``'s states (a lazily sized state may take any width its dims allow)."""
    expected: set[str] = set()
    optional: set[str] = set()
    for prefix, module in _metrics_in(metric):
        expected |= {prefix + name for name in module.metric_state} | {prefix + _COUNT_KEY}
        optional |= {prefix + name for name in _extras(module)}
    missing, unexpected = expected - set(state), set(state) - expected - optional
    if missing or unexpected:
        raise ValueError(
            f"state does not fit this {type(metric).__name__}: missing keys {sorted(missing)}, "
            f"unexpected keys {sorted(unexpected)}; load into a metric built with the same "
            f"arguments (mode, measures, layers) as the one saved"
        )
    for prefix, module in _metrics_in(metric):
        lazy = module._lazy_dims if isinstance(module, LazyWidthMetric) else {}
        for name, current in module.metric_state.items():
            key, value = prefix + name, state[prefix + name]
            if isinstance(current, Tensor) != isinstance(value, Tensor) or not (
                isinstance(value, Tensor) or all(isinstance(v, Tensor) for v in value)
            ):
                kind = "a tensor" if isinstance(current, Tensor) else "a list of tensors"
                raise ValueError(f"state {key!r} must be {kind}, got {type(value).__name__}")
            if not isinstance(value, Tensor) or not isinstance(current, Tensor):
                continue
            if value.dtype != current.dtype:
                raise ValueError(f"state {key!r} has dtype {value.dtype}, expected {current.dtype}")
            if name not in lazy and value.shape != current.shape:
                raise ValueError(
                    f"state {key!r} has shape {tuple(value.shape)}, expected {tuple(current.shape)}"
                )
        if isinstance(module, LazyWidthMetric):
            module._check_lazy_shapes({name: state[prefix + name] for name in lazy})
        for name in _extras(module):
            extra = state.get(prefix + name)
            if extra is not None and not isinstance(extra, Tensor):
                raise ValueError(f"{prefix + name!r} must be a tensor, got {type(extra).__name__}")
        count = state[prefix + _COUNT_KEY]
        if not isinstance(count, Tensor) or count.ndim != 0 or count.is_floating_point():
            raise ValueError(f"{prefix + _COUNT_KEY!r} must be a 0-d integer tensor")
