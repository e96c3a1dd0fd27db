"""A probe metric that hands a whole evaluation split to a function of the experiment's own.

The run loop records what probes return — scalars, and arrays such as a quantity per α along
an interpolation path — under the probe's schedule and the evaluation split. Some measurements
are not functions of one forward pass of one model: the linear-mode-connectivity experiment
evaluates four networks and many interpolated ones on the same samples. :class:`SplitReadout`
lets such a measurement ride the probe machinery: it keeps the split's ``(inputs, labels)``
batches from the evaluation pass and, at ``compute``, returns ``measure(x, y)``, whose nested
``{layer: {metric: tensor}}`` result the monitor stores like any metric's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["Measure", "SplitReadout"]

Measure = Callable[[Tensor, Tensor], Mapping[str, Any]]
"""``measure(x, y) -> {metric: tensor}`` or ``{layer: {metric: tensor}}``."""


class SplitReadout(Metric):
    """Collect an evaluation split's batches; ``compute`` returns ``measure(x, y)`` on all of it.

    Args:
        measure: Called once per record with the concatenated inputs (n, …) and labels (n,),
            in the order of the evaluation batches.

    Example:
        >>> readout = SplitReadout(lambda x, y: {"mean_input": x.mean()})
        >>> readout.update(torch.ones(2, 3), torch.tensor([0, 1]))
        >>> readout.update(torch.zeros(2, 3), torch.tensor([1, 0]))
        >>> float(readout.compute()["mean_input"])
        0.5
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("inputs", "labels")

    x_batches: list[Tensor] | Tensor
    y_batches: list[Tensor] | Tensor

    def __init__(self, measure: Measure, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._measure = measure
        self.add_state("x_batches", [], "cat")
        self.add_state("y_batches", [], "cat")

    def update(self, inputs: Tensor, labels: Tensor) -> None:
        """Keep one batch (detached)."""
        assert isinstance(self.x_batches, list) and isinstance(self.y_batches, list)
        self.x_batches.append(inputs.detach())
        self.y_batches.append(labels.detach())

    def compute(self) -> Mapping[str, Any]:
        """``measure`` of everything kept since the last reset."""
        if isinstance(self.x_batches, list) and not self.x_batches:
            raise RuntimeError("SplitReadout.compute() before update(): no batch was kept")
        with torch.no_grad():
            return self._measure(dim_zero_cat(self.x_batches), dim_zero_cat(self.y_batches))
