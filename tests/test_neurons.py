"""neuron_series: the one rule that turns a layer output into (samples, neurons)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infodyn.functional import neuron_series


@pytest.mark.parametrize("shape", [(6, 3, 5), (6, 3, 4, 5), (6, 3, 2, 3, 4)])
def test_neuron_series_averages_each_channel_over_its_positions(shape: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(len(shape))
    maps = torch.randn(*shape, generator=g, dtype=torch.float64)
    expected = maps.numpy().mean(axis=tuple(range(2, len(shape))))  # NumPy, over spatial axes
    got = neuron_series(maps)
    assert got.shape == shape[:2]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_neuron_series_keeps_matrices_and_gives_vectors_one_neuron() -> None:
    x = torch.randn(7, 4)
    assert neuron_series(x) is x
    v = torch.arange(5.0, requires_grad=True)
    column = neuron_series(v)
    assert column.shape == (5, 1) and torch.equal(column[:, 0], v)
    maps = torch.randn(3, 2, 4, 4, requires_grad=True)
    neuron_series(maps).sum().backward()  # differentiable: d mean / d x = 1/16
    assert maps.grad is not None and torch.allclose(maps.grad, torch.full_like(maps, 1 / 16))
    with pytest.raises(ValueError, match="activation is 0-d"):
        neuron_series(torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"needs floating values.*activation\.float\(\)"):
        neuron_series(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match=r"activation must be a torch\.Tensor"):
        neuron_series([[1.0]])  # type: ignore[arg-type]
