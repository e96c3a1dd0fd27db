"""upper_gram: XᵀX from the upper triangle's block rows equals one GEMM, gradients included."""

from __future__ import annotations

import pytest
import torch

from infodyn.functional import matrix_entropy
from infodyn.functional._gram import upper_gram


@pytest.mark.parametrize("d", [3, 255, 256, 301])
@pytest.mark.parametrize("blocks", [2, 4, 7])
def test_equals_the_full_product_and_is_exactly_symmetric(d: int, blocks: int) -> None:
    x = torch.randn(40, d, dtype=torch.float64, generator=torch.Generator().manual_seed(d))
    got = upper_gram(x, blocks)
    assert torch.allclose(got, x.mT @ x, rtol=1e-13, atol=1e-12)
    assert torch.equal(got, got.mT)


def test_gradient_equals_the_full_products() -> None:
    x = torch.randn(30, 300, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(300, 300, dtype=torch.float64)
    (upper_gram(x) * weight).sum().backward()
    assert x.grad is not None
    blocked = x.grad.clone()
    x.grad = None
    ((x.mT @ x) * weight).sum().backward()
    assert torch.allclose(blocked, x.grad, rtol=1e-12, atol=1e-10)


def test_matrix_entropy_through_the_blocked_dual_matches_the_n_by_n_spectrum() -> None:
    """d = 300 ≥ 256 takes the blocked dual; any chunking gives the n×n eigenvalue value."""
    z = torch.randn(600, 300, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    u = z / z.norm(dim=1, keepdim=True)
    lam = torch.linalg.eigvalsh(u @ u.mT / 600).clamp_min(0)
    expected = float(-torch.special.xlogy(lam, lam).sum())
    for chunk_size in (None, 128, 599):
        assert float(matrix_entropy(z, chunk_size=chunk_size)) == pytest.approx(expected, abs=1e-10)
