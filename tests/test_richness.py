"""D_LR, the spectral curves and the baselines: closed forms, references, invariances, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from infodyn.functional.baselines import linear_cka, parameter_norm
from infodyn.functional.richness import (
    _Moments,
    _moments,
    _richness_from_moments,
    d_lr,
    richness,
)
from reference import richness_reference as ref

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _head(g: torch.Generator, p: int, c: int) -> tuple[Tensor, Tensor]:
    return torch.randn(c, p, generator=g, dtype=F64), torch.randn(c, generator=g, dtype=F64)


def _anisotropic(seed: int, n: int = 240, p: int = 30, c: int = 5) -> tuple[Tensor, Tensor, Tensor]:
    """Features with decaying scales and an offset, logits of a random head with bias, labels."""
    g = _gen(seed)
    phi = torch.randn(n, p, generator=g, dtype=F64) * torch.linspace(3.0, 0.1, p, dtype=F64)
    phi = phi + torch.randn(p, generator=g, dtype=F64)
    w, b = _head(g, p, c)
    labels = torch.randint(0, c, (n,), generator=g)
    return phi, phi @ w.T + b, labels


def _collapsed(
    seed: int,
    *,
    labels: Tensor,
    means: str = "etf",
    noise: float = 0.0,
    n: int = 2000,
    p: int = 200,
    c: int = 10,
) -> tuple[Tensor, Tensor]:
    """Class means in a random C-dim subspace plus an offset (infodyn's test constructions)."""
    g = _gen(seed)
    w, b = _head(g, p, c)
    basis, _ = torch.linalg.qr(torch.randn(p, c, generator=g, dtype=F64))
    offset = torch.randn(p, generator=g, dtype=F64)
    if means == "etf":
        centres = 5.0 * (torch.eye(c, dtype=F64) - 1.0 / c) @ basis.T
    else:  # random (non-ETF) means, standard normal in all p dimensions
        centres = torch.randn(c, p, generator=g, dtype=F64)
    phi = centres[labels] + offset + noise * torch.randn(n, p, generator=g, dtype=F64)
    return phi, phi @ w.T + b


# --- reference implementation ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(240, 30, 5), (40, 90, 3)])  # n > p and n < p
def test_d_lr_matches_the_n_by_n_definition(seed: int, shape: tuple[int, int, int]) -> None:
    phi, out, _ = _anisotropic(seed, *shape)
    expected = ref.d_lr(phi.numpy(), out.numpy())
    assert float(d_lr(phi, out)) == pytest.approx(expected, abs=1e-10)
    assert float(d_lr(phi, out, chunk_size=7)) == pytest.approx(expected, abs=1e-10)


def test_d_lr_float32_inputs_run_in_float64() -> None:
    phi, out, _ = _anisotropic(3)
    value = d_lr(phi.float(), out.float())
    assert value.dtype == F64
    expected = ref.d_lr(phi.float().double().numpy(), out.float().double().numpy())
    assert float(value) == pytest.approx(expected, abs=1e-10)


def test_rank_deficient_outputs_use_the_rank_of_the_centred_outputs() -> None:
    phi, out, _ = _anisotropic(4, c=5)
    out[:, 3] = 2.0 * out[:, 0] - out[:, 1] + 7.0  # rank 4 after centring
    expected = ref.d_lr(phi.numpy(), out.numpy())
    assert float(d_lr(phi, out)) == pytest.approx(expected, abs=1e-10)


def test_literal_projection_differs_without_the_constant_function() -> None:
    # Documents infodyn's reading: projecting onto span{F} and then centring is not the same
    # as projecting onto span{F_c} unless 1 ∈ span{F}; both are computed by the reference.
    phi, out, _ = _anisotropic(5)
    ours = float(d_lr(phi, out))
    assert ours == pytest.approx(ref.d_lr(phi.numpy(), out.numpy()), abs=1e-10)
    assert abs(ours - ref.d_lr(phi.numpy(), out.numpy(), with_constant=False)) > 1e-4


@pytest.mark.parametrize("shape", [(240, 30, 5), (40, 90, 3)])
def test_curves_match_explicit_nystrom_eigenfunctions(shape: tuple[int, int, int]) -> None:
    phi, out, labels = _anisotropic(6, *shape)
    result = richness(phi, out, labels)
    onehot = torch.nn.functional.one_hot(labels, shape[2]).numpy()
    expected = ref.curves(phi.numpy(), out.numpy(), onehot.astype(np.float64))
    assert result.quality is not None and result.quality_cumulative is not None
    np.testing.assert_allclose(result.utilization.numpy(), expected["utilization"], atol=1e-10)
    np.testing.assert_allclose(result.quality.numpy(), expected["quality"], atol=1e-10)
    np.testing.assert_allclose(
        result.relative_norms.numpy(), expected["relative_norms"], atol=1e-10
    )
    np.testing.assert_allclose(
        result.utilization_cumulative.numpy(), np.cumsum(expected["utilization"]), atol=1e-10
    )
    np.testing.assert_allclose(
        result.quality_cumulative.numpy(), np.cumsum(expected["quality"]), atol=1e-10
    )
    assert float(result.d_lr) == pytest.approx(float(d_lr(phi, out)), abs=1e-14)
    chunked = richness(phi, out, labels, chunk_size=7)
    torch.testing.assert_close(chunked.utilization, result.utilization, atol=1e-12, rtol=0)


def test_nystrom_eigenfunctions_are_orthonormal_in_the_sample_mean() -> None:
    phi, _, _ = _anisotropic(7)
    _, e = ref.nystrom_eigenfunctions(phi.numpy())
    np.testing.assert_allclose(e.T @ e / phi.shape[0], np.eye(e.shape[1]), atol=1e-10)


# --- known values: closed forms, and values derived for these constructions with the explicit
# n×n definition (seed-dependent in the second decimal) ------------------------------------------


def test_isotropic_gaussian_features() -> None:
    g = _gen(0)
    phi = torch.randn(2000, 200, generator=g, dtype=F64)
    w, b = _head(g, 200, 10)
    value = float(d_lr(phi, phi @ w.T + b))
    assert value == pytest.approx(0.766, abs=0.01)
    rotation, _ = torch.linalg.qr(torch.randn(200, 200, generator=g, dtype=F64))
    rescaled = float(d_lr(3.0 * phi @ rotation, 0.1 * (phi @ w.T + b)))
    assert rescaled == pytest.approx(value, abs=1e-10)


def test_collapse_on_a_balanced_simplex_etf_is_exactly_richest() -> None:
    labels = torch.arange(2000) % 10
    phi, out = _collapsed(0, labels=labels)
    assert float(d_lr(phi, out)) == pytest.approx(0.0, abs=1e-10)
    result = richness(phi, out, labels)
    # Rich: the features have C non-null modes (the offset and C − 1 centred means), the
    # outputs use only them and Π̂ saturates by k = C.
    assert float(result.utilization_cumulative[9]) == pytest.approx(1.0, abs=1e-10)
    assert float(result.relative_norms[10]) < 1e-12
    assert result.quality_cumulative is not None
    assert float(result.quality_cumulative[9]) == pytest.approx(1.0, abs=1e-10)


def test_unbalanced_collapse_is_nearly_richest() -> None:
    labels = torch.randint(0, 10, (2000,), generator=_gen(11))  # counts 170…240
    phi, out = _collapsed(1, labels=labels)
    assert 5e-4 < float(d_lr(phi, out)) < 0.01  # n×n definition: ≈ 0.003


def test_collapse_on_random_means() -> None:
    phi, out = _collapsed(2, labels=torch.arange(2000) % 10, means="random")
    assert 0.01 < float(d_lr(phi, out)) < 0.05  # n×n definition: ≈ 0.02


def test_etf_with_noise() -> None:
    phi, out = _collapsed(3, labels=torch.arange(2000) % 10, noise=0.5)
    assert float(d_lr(phi, out)) == pytest.approx(0.67, abs=0.05)  # n×n definition: ≈ 0.67


def test_function_on_chosen_eigen_directions_gives_the_predicted_utilization() -> None:
    n, p = 400, 12
    g = _gen(8)
    basis, _ = torch.linalg.qr(torch.randn(n, p, generator=g, dtype=F64))
    e = math.sqrt(n) * basis  # ⟨e_j|e_k⟩ = δ_jk in the sample mean
    rho = torch.logspace(0, -3, p, dtype=F64)  # distinct, descending
    v, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=F64))
    phi = e * rho.sqrt() @ v.T  # G = ΦᵀΦ/n = V diag(ρ) Vᵀ
    # f_1 = 3 e_2 + 1 e_5, f_2 = 2 e_5: shares 9/14 on mode 2 and 5/14 on mode 5.
    out = torch.stack([3 * e[:, 1] + e[:, 4], 2 * e[:, 4]], dim=1)
    result = richness(phi, out)
    expected = torch.zeros(p, dtype=F64)
    expected[1], expected[4] = 9 / 14, 5 / 14
    torch.testing.assert_close(result.utilization, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.eigenvalues, rho, atol=1e-12, rtol=1e-10)
    assert result.quality is None and result.quality_cumulative is None
    assert result.utilization_cumulative.shape == (p,)
    assert richness(phi, out, k=3).utilization_cumulative.shape == (3,)


def test_target_matrix_equals_integer_labels() -> None:
    phi, out, labels = _anisotropic(9)
    from_labels = richness(phi, out, labels)
    from_matrix = richness(phi, out, torch.nn.functional.one_hot(labels, 5).to(F64))
    assert from_labels.quality is not None and from_matrix.quality is not None
    torch.testing.assert_close(from_labels.quality, from_matrix.quality, atol=1e-14, rtol=0)
    more_classes = richness(phi, out, labels, num_classes=7)
    assert more_classes.quality is not None
    torch.testing.assert_close(more_classes.quality, from_labels.quality, atol=1e-14, rtol=0)


# --- invariances ---------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_invariant_to_rotating_features_with_the_head_and_to_permuting_samples(
    seed: int, scale: float
) -> None:
    g = _gen(seed)
    n, p, c = 60, 8, 3
    phi = torch.randn(n, p, generator=g, dtype=F64) * torch.linspace(2.0, 0.2, p, dtype=F64)
    w, b = _head(g, p, c)
    labels = torch.randint(0, c, (n,), generator=g)
    base = richness(phi, phi @ w.T + b, labels)
    rotation, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=F64))
    rotated = phi @ rotation
    turned = richness(scale * rotated, scale * rotated @ (rotation.T @ w.T) + scale * b, labels)
    perm = torch.randperm(n, generator=g)
    shuffled = richness(phi[perm], (phi @ w.T + b)[perm], labels[perm])
    for other in (turned, shuffled):
        assert float(other.d_lr) == pytest.approx(float(base.d_lr), abs=1e-10)
        for name in ("utilization_cumulative", "quality_cumulative", "relative_norms"):
            torch.testing.assert_close(getattr(other, name), getattr(base, name), atol=1e-9, rtol=0)
    assert 0.0 <= float(base.d_lr) <= 1.0


# --- the moment (covariance) route ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(240, 30, 5), (40, 90, 3)])
def test_moments_route_equals_the_sample_route(shape: tuple[int, int, int]) -> None:
    phi, out, labels = _anisotropic(10, *shape)
    onehot = torch.nn.functional.one_hot(labels, shape[2]).to(F64)
    halves = [_moments(phi[s], out[s], onehot[s]) for s in (slice(0, 17), slice(17, None))]
    summed = _Moments(*(a + b for a, b in zip(*halves, strict=True)))
    from_moments = _richness_from_moments(summed)
    from_samples = richness(phi, out, labels)
    assert float(from_moments.d_lr) == pytest.approx(float(from_samples.d_lr), abs=1e-10)
    for name in ("utilization_cumulative", "quality_cumulative", "relative_norms", "eigenvalues"):
        torch.testing.assert_close(
            getattr(from_moments, name), getattr(from_samples, name), atol=1e-10, rtol=0
        )


# --- baselines ------------------------------------------------------------------------------------


def test_linear_cka_matches_kernel_alignment_and_is_one_on_itself() -> None:
    g = _gen(12)
    a = torch.randn(80, 6, generator=g, dtype=F64)
    b = a @ torch.randn(6, 9, generator=g, dtype=F64) + 0.5 * torch.randn(80, 9, generator=g)
    assert float(linear_cka(a, b)) == pytest.approx(ref.linear_cka(a.numpy(), b.numpy()), abs=1e-12)
    assert float(linear_cka(a, a)) == pytest.approx(1.0, abs=1e-12)
    unrelated = torch.randn(80, 6, generator=g, dtype=F64)
    assert float(linear_cka(a, unrelated)) < 0.3


def test_parameter_norm_and_its_ratio_to_initialisation() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    expected = sum(float(p.detach().double().square().sum()) for p in model.parameters())
    assert float(parameter_norm(model)) == pytest.approx(expected, rel=1e-12)
    assert float(parameter_norm(model.state_dict())) == pytest.approx(expected, rel=1e-12)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    assert float(parameter_norm(model, initial=initial)) == pytest.approx(0.25, rel=1e-12)


# --- errors ---------------------------------------------------------------------------------------


def test_errors_name_the_argument_and_the_fix() -> None:
    phi, out, labels = _anisotropic(13)
    with pytest.raises(ValueError, match="at least C \\+ 1"):
        d_lr(phi[:5], out[:5])
    with pytest.raises(ValueError, match="features has 240 samples but outputs has 239"):
        d_lr(phi, out[:-1])
    bad = phi.clone()
    bad[3, 2] = math.nan
    with pytest.raises(ValueError, match="features contains 1 non-finite"):
        d_lr(bad, out)
    constant = torch.full((240, 4), 0.1, dtype=F64)  # the mean of 0.1s is not exactly 0.1
    with pytest.raises(ValueError, match="features are constant across samples"):
        d_lr(constant, out)
    with pytest.raises(ValueError, match="outputs are constant across samples"):
        d_lr(phi, constant[:, :3])
    for path in (_moments(constant, out, None), _moments(phi, constant[:, :3], None)):
        with pytest.raises(ValueError, match="are constant across samples"):
            _richness_from_moments(path)
    with pytest.raises(ValueError, match="features has 0 columns"):
        d_lr(torch.zeros(240, 0), out)
    with pytest.raises(ValueError, match="k must be None or an integer >= 1, got 0"):
        richness(phi, out, k=0)
    with pytest.raises(ValueError, match="targets holds values in"):
        richness(phi, out, labels + 3)
    with pytest.raises(ValueError, match="chunk_size must be None or an integer >= 1, got 0"):
        d_lr(phi, out, chunk_size=0)
    with pytest.raises(ValueError, match="features_b is constant"):
        linear_cka(phi, torch.zeros(240, 2))
    with pytest.raises(ValueError, match="initial has"):
        parameter_norm([torch.ones(2)], initial=[torch.zeros(2)])
