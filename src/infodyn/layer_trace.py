"""Find a model's weight layers in the order its forward pass calls them.

Registration order (``named_modules``) is not forward order: a model may define its head
before its trunk, or reuse a module. One forward pass with a hook on every ``nn.Linear`` and
convolution records the order the layers actually run in, what each emits, and which Linear
produced the model's output (the classifier head).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from infodyn.tap import eval_mode

__all__ = ["LayerTrace", "trace_layers"]

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class LayerTrace:
    """What one forward pass showed of a model's weight layers.

    Attributes:
        order: Names of the ``nn.Linear``/``nn.Conv*`` modules in the order they first ran.
        shapes: ``{name: output shape}`` of each, batch dimension included.
        head: The Linear whose output is the model's output (None if none is).
        output_shape: Shape of the model's output.
        convolutions: The names in ``order`` that are convolutions.
    """

    order: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...]]
    head: str | None
    output_shape: tuple[int, ...]
    convolutions: frozenset[str] = frozenset()

    def per_sample(self) -> tuple[str, ...]:
        """Layers whose neurons are one vector per sample: 2-D outputs, and convolutions.

        Layers applied per token (a transformer's (N, tokens, d) Linear outputs) are left out:
        their neurons are not one value per sample.
        """
        return tuple(
            name for name in self.order if len(self.shapes[name]) == 2 or name in self.convolutions
        )

    def classifier_head(self, given: str | None = None) -> str:
        """``given``, else the traced head; an error saying how to name it when there is none."""
        if given is not None:
            return given
        if self.head is None:
            raise ValueError(
                f"no Linear's output is the model's output {self.output_shape}, so the "
                f"classifier head could not be found; name it with head='...' (traced layers: "
                f"{list(self.order)})"
            )
        return self.head

    def te_layers(self, head: str, given: Sequence[str] | None = None) -> tuple[str, ...]:
        """``given``, else the per-sample layers in forward order without the head."""
        if given is not None:
            return tuple(given)
        return tuple(name for name in self.per_sample() if name != head)


def trace_layers(model: nn.Module, inputs: Any) -> LayerTrace:
    """Run ``model(inputs)`` once in eval mode, without gradients, and record its weight layers.

    The model's mode is restored afterwards and every hook removed, also on an error.

    Args:
        model: The network.
        inputs: One batch of model inputs, on the model's device.

    Returns:
        A :class:`LayerTrace`; its ``head`` is the last Linear called whose output is the
        model's output tensor itself (or has the output's shape, when the model post-processes
        it, e.g. by slicing a token).

    Raises:
        ValueError: The model called no Linear or convolution.

    Example:
        >>> class HeadFirst(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.head, self.body = nn.Linear(8, 3), nn.Linear(4, 8)
        ...     def forward(self, x):
        ...         return self.head(torch.relu(self.body(x)))
        >>> trace = trace_layers(HeadFirst(), torch.randn(5, 4))
        >>> trace.order, trace.head
        (('body', 'head'), 'head')
    """
    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    outputs: dict[str, Tensor] = {}
    handles = []
    conv: set[str] = set()

    def record(name: str) -> Any:
        def hook(_module: nn.Module, _args: tuple[Any, ...], output: Any) -> None:
            if name not in shapes and isinstance(output, Tensor):
                order.append(name)
                shapes[name] = tuple(output.shape)
                outputs[name] = output

        return hook

    for name, module in model.named_modules():
        if isinstance(module, _WEIGHT_LAYERS):
            handles.append(module.register_forward_hook(record(name)))
            if not isinstance(module, nn.Linear):
                conv.add(name)
    try:
        with torch.no_grad(), eval_mode(model):
            output = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if not order:
        raise ValueError(
            "the model's forward pass called no nn.Linear or convolution; name the layers "
            "(layers=[...]) and the head (head='...') explicitly"
        )
    if not isinstance(output, Tensor):
        raise TypeError(
            f"the model returned {type(output).__name__}, not a tensor of logits; wrap it so "
            f"forward returns the logits (N, classes)"
        )
    head = _head_of(order, outputs, output, conv)
    return LayerTrace(tuple(order), shapes, head, tuple(output.shape), frozenset(conv))


def _head_of(
    order: list[str], outputs: Mapping[str, Tensor], output: Tensor, conv: set[str]
) -> str | None:
    linears = [name for name in order if name not in conv]
    for name in reversed(linears):
        if outputs[name] is output:
            return name
    for name in reversed(linears):
        if outputs[name].shape[-1] == output.shape[-1] and outputs[name].ndim == output.ndim:
            return name
    return None
