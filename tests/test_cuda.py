"""On a GPU: the same values as the CPU routes (run wherever CUDA is present, skipped elsewhere)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from infodyn import measure
from infodyn.functional import transfer_entropy

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize(("m", "n", "t"), [(7, 5, 1000), (300, 200, 20_000)])
def test_te_counts_on_cuda_equal_the_cpu_route(m: int, n: int, t: int) -> None:
    g = torch.Generator().manual_seed(m)
    x = (torch.rand(t, m, generator=g) < 0.3).to(torch.uint8)
    y = (torch.rand(t, n, generator=g) < 0.4).to(torch.uint8)
    on_cpu = transfer_entropy(x, y)
    on_gpu = transfer_entropy(x.cuda(), y.cuda())
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=0, atol=1e-12)


def test_measure_on_cuda_equals_the_cpu() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(600, 8, generator=g), torch.arange(600) % 4
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))
    loader = DataLoader(TensorDataset(x, y), batch_size=200)
    on_cpu = measure(net, loader)
    on_gpu = measure(net, loader, device="cuda")
    assert on_gpu.setup["device"].startswith("cuda")
    for key, value in on_cpu.scalars.items():
        assert on_gpu[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
