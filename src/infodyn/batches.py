"""Turn whatever a data loader yields into the ``(inputs, labels)`` pairs infodyn measures.

A loader may yield ``(x, y)`` tuples (``TensorDataset``, torchvision-style datasets), dicts
(Hugging Face style: ``{"pixel_values": …, "labels": …}``), or anything else given a
``batch_fn`` that maps one batch to ``(inputs, labels)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["INPUT_KEYS", "LABEL_KEYS", "BatchFn", "as_pairs", "default_batch_fn", "to_device"]

#: ``(batch) -> (inputs, labels)``: how one loader batch becomes what the model and metrics take.
BatchFn = Callable[[Any], tuple[Any, Tensor]]

#: Keys searched, in this order, for the model inputs of a dict batch.
INPUT_KEYS = ("x", "input", "inputs", "image", "images", "pixel_values", "input_ids", "data")
#: Keys searched, in this order, for the labels of a dict batch.
LABEL_KEYS = ("y", "label", "labels", "target", "targets")


def _first_key(batch: Mapping[str, Any], keys: tuple[str, ...], what: str) -> Any:
    for key in keys:
        if key in batch:
            return batch[key]
    raise ValueError(
        f"a dict batch has no {what} key: looked for {list(keys)}, found {sorted(batch)}; "
        f"pass batch_fn=lambda b: (b['<inputs>'], b['<labels>'])"
    )


def default_batch_fn(batch: Any) -> tuple[Any, Tensor]:
    """``(inputs, labels)`` of a tuple/list batch (its first two items) or of a dict batch.

    Example:
        >>> x, y = torch.zeros(4, 2), torch.arange(4)
        >>> default_batch_fn((x, y))[1].tolist()
        [0, 1, 2, 3]
        >>> default_batch_fn({"image": x, "label": y})[1].tolist()
        [0, 1, 2, 3]
    """
    if isinstance(batch, Mapping):
        return _first_key(batch, INPUT_KEYS, "inputs"), _first_key(batch, LABEL_KEYS, "labels")
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        f"cannot read (inputs, labels) from a batch of type {type(batch).__name__}"
        f"{f' of length {len(batch)}' if isinstance(batch, (tuple, list)) else ''}; the loader "
        f"must yield (x, y) pairs or dicts, or pass batch_fn=lambda b: (inputs, labels)"
    )


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` on ``device``: a tensor, or a dict/tuple/list of them (other leaves unchanged)."""
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(v, device) for v in value)
    return value


def _labels(labels: Any, index: int) -> Tensor:
    if not isinstance(labels, Tensor):
        labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(
            f"batch {index}: labels must be a 1-D integer tensor of class indices, got "
            f"dtype {labels.dtype} and shape {tuple(labels.shape)}; one-hot or soft targets "
            f"need batch_fn=lambda b: (b[0], b[1].argmax(1))"
        )
    return labels


def as_pairs(
    loader: Iterable[Any], batch_fn: BatchFn | None, device: torch.device
) -> Iterator[tuple[Any, Tensor]]:
    """Every batch of ``loader`` as ``(inputs, labels)`` on ``device``, labels checked."""
    read = batch_fn if batch_fn is not None else default_batch_fn
    for index, batch in enumerate(loader):
        inputs, labels = read(batch)
        yield to_device(inputs, device), _labels(labels, index).to(device)
