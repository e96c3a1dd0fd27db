"""Capture activations with forward hooks, by module name, and find the classifier head.

Hooks are always removed: on leaving the ``with`` block, on an exception inside it, and by
:meth:`ActivationCapture.remove`. One forward pass fills every requested layer at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Literal

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from infodyn.functional.neurons import neuron_series

Reduction = Literal["none", "channel_mean"]


def _module_by_name(model: nn.Module, name: str, argument: str) -> nn.Module:
    # Walk the registered submodules along the dotted name: O(depth), where building
    # named_modules() is O(model) — a monitor resolves its names at every live step.
    found: nn.Module | None = model if name else None
    for atom in name.split("."):
        found = found._modules.get(atom) if found is not None else None
    if found is not None:
        return found
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        names = [n for n in modules if n]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"{argument}: the model has no module named {name!r}{hint} "
            f"Available names: {', '.join(names[:30])}{' …' if len(names) > 30 else ''}"
        )
    return modules[name]


def find_classifier_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """Return ``(name, module)`` of the classifier head: the last ``nn.Linear`` registered.

    Its ``weight`` (C, d) holds one row per class, and its input is the penultimate feature.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> find_classifier_head(net)[0]
        '2'
    """
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            "model has no nn.Linear module, so no classifier head could be found; "
            "name the head explicitly (e.g. head='fc')"
        )
    return linears[-1]


def _reduce(x: Tensor, reduction: Reduction) -> Tensor:
    # Conv maps (N, C, H, W, …) become one value per channel, by the one rule of the package.
    return neuron_series(x) if reduction == "channel_mean" else x


class ActivationCapture:
    """Record the outputs (and optionally inputs) of named modules during forward passes.

    Args:
        model: the network to hook.
        layers: module names whose *outputs* are recorded, as in ``model.named_modules()``.
        inputs: module names whose first positional *input* is recorded (e.g. the classifier
            head, whose input is the penultimate feature).
        detach: store detached tensors (default) or keep them in the autograd graph.
        reduction: ``"channel_mean"`` turns conv maps (N, C, …) into (N, C) by
            :func:`infodyn.functional.neuron_series` (and (N,) into (N, 1)).

    Example:
        >>> import torch
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> with ActivationCapture(net, layers=["1"], inputs=["2"]) as cap:
        ...     _ = net(torch.randn(5, 4))
        ...     cap.output("1").shape, cap.input("2").shape
        (torch.Size([5, 8]), torch.Size([5, 8]))
        >>> len(net[1]._forward_hooks)
        0
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] = (),
        *,
        inputs: Sequence[str] = (),
        detach: bool = True,
        reduction: Reduction = "none",
    ) -> None:
        if reduction not in ("none", "channel_mean"):
            raise ValueError(f"reduction must be 'none' or 'channel_mean', got {reduction!r}")
        # Resolve names now so a typo fails before any forward pass.
        self._out_modules = {n: _module_by_name(model, n, "layers") for n in layers}
        self._in_modules = {n: _module_by_name(model, n, "inputs") for n in inputs}
        self.detach = detach
        self.reduction: Reduction = reduction
        self._outputs: dict[str, Tensor] = {}
        self._inputs: dict[str, Tensor] = {}
        self._handles: list[RemovableHandle] = []

    def _keep(self, x: Tensor) -> Tensor:
        x = x.detach() if self.detach else x
        return _reduce(x, self.reduction)

    def attach(self) -> ActivationCapture:
        """Register the hooks (idempotent); prefer the ``with`` form, which always removes them."""
        if self._handles:
            return self
        for name, module in self._out_modules.items():

            def save_output(
                _m: nn.Module, _a: tuple[Tensor, ...], out: Tensor, n: str = name
            ) -> None:
                self._outputs[n] = self._keep(out)

            self._handles.append(module.register_forward_hook(save_output))
        for name, module in self._in_modules.items():

            def save_input(_m: nn.Module, args: tuple[Tensor, ...], n: str = name) -> None:
                self._inputs[n] = self._keep(args[0])

            self._handles.append(module.register_forward_pre_hook(save_input))
        return self

    def remove(self) -> None:
        """Remove every hook this capture registered and drop the stored tensors."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.clear()

    def clear(self) -> None:
        """Forget the tensors recorded so far (hooks stay attached)."""
        self._outputs.clear()
        self._inputs.clear()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def output(self, name: str) -> Tensor:
        """The last recorded output of module ``name``."""
        return self._lookup(self._outputs, self._out_modules, name, "output")

    def input(self, name: str) -> Tensor:
        """The last recorded first input of module ``name``."""
        return self._lookup(self._inputs, self._in_modules, name, "input")

    def outputs(self) -> Iterator[tuple[str, Tensor]]:
        """Recorded outputs in the order the layers were requested."""
        for name in self._out_modules:
            if name in self._outputs:
                yield name, self._outputs[name]

    @staticmethod
    def _lookup(
        store: dict[str, Tensor], hooked: dict[str, nn.Module], name: str, kind: str
    ) -> Tensor:
        if name not in hooked:
            raise KeyError(f"{kind} of {name!r} is not captured; hooked: {sorted(hooked)}")
        if name not in store:
            raise RuntimeError(f"no {kind} of {name!r} recorded yet; run a forward pass first")
        return store[name]

    def __enter__(self) -> ActivationCapture:
        return self.attach()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
