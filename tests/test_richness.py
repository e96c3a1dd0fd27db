"""The spectral curves, invariances and moment route of D_LR, the baselines, and the errors.

D_LR's two readings against the n×n definition and its test values: ``test_richness_span.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from infodyn.functional.baselines import linear_cka, parameter_norm
from infodyn.functional.richness import (
    SPANS,
    Span,
    _Moments,
    _moments,
    _richness_from_moments,
    d_lr,
    richness,
)
from reference import richness_reference as ref
from richness_cases import F64, anisotropic, generator, random_head

# --- reference implementation ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(240, 30, 5), (40, 90, 3)])
def test_curves_match_explicit_nystrom_eigenfunctions(shape: tuple[int, int, int]) -> None:
    phi, out, labels = anisotropic(6, *shape)
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
    phi, _, _ = anisotropic(7)
    _, e = ref.nystrom_eigenfunctions(phi.numpy())
    np.testing.assert_allclose(e.T @ e / phi.shape[0], np.eye(e.shape[1]), atol=1e-10)


# --- known curves ----------------------------------------------------------------------------


def test_function_on_chosen_eigen_directions_gives_the_predicted_utilization() -> None:
    n, p = 400, 12
    g = generator(8)
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
    phi, out, labels = anisotropic(9)
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
    g = generator(seed)
    n, p, c = 60, 8, 3
    phi = torch.randn(n, p, generator=g, dtype=F64) * torch.linspace(2.0, 0.2, p, dtype=F64)
    w, b = random_head(g, p, c)
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
    # The other reading: the same invariances (scaling F keeps both spans).
    other_span = {"span": "outputs_and_constant"}
    base_c = float(d_lr(phi, phi @ w.T + b, **other_span))  # type: ignore[arg-type]
    turned_c = d_lr(scale * rotated, scale * (phi @ w.T + b), **other_span)  # type: ignore[arg-type]
    shuffled_c = d_lr(phi[perm], (phi @ w.T + b)[perm], **other_span)  # type: ignore[arg-type]
    assert float(turned_c) == pytest.approx(base_c, abs=1e-10)
    assert float(shuffled_c) == pytest.approx(base_c, abs=1e-10)


# --- the moment (covariance) route ----------------------------------------------------------------


@pytest.mark.parametrize("span", SPANS)
@pytest.mark.parametrize("shape", [(240, 30, 5), (40, 90, 3)])
def test_moments_route_equals_the_sample_route(shape: tuple[int, int, int], span: Span) -> None:
    phi, out, labels = anisotropic(10, *shape)
    onehot = torch.nn.functional.one_hot(labels, shape[2]).to(F64)
    halves = [_moments(phi[s], out[s], onehot[s]) for s in (slice(0, 17), slice(17, None))]
    summed = _Moments(*(a + b for a, b in zip(*halves, strict=True)))
    from_moments = _richness_from_moments(summed, span=span)
    from_samples = richness(phi, out, labels, span=span)
    assert from_moments.span == from_samples.span == span
    assert float(from_moments.d_lr) == pytest.approx(float(from_samples.d_lr), abs=1e-10)
    for name in ("utilization_cumulative", "quality_cumulative", "relative_norms", "eigenvalues"):
        torch.testing.assert_close(
            getattr(from_moments, name), getattr(from_samples, name), atol=1e-10, rtol=0
        )


# --- baselines ------------------------------------------------------------------------------------


def test_linear_cka_matches_kernel_alignment_and_is_one_on_itself() -> None:
    g = generator(12)
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
    phi, out, labels = anisotropic(13)
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
    with pytest.raises(ValueError, match="span must be one of 'outputs', 'outputs_and_constant'"):
        d_lr(phi, out, span="centred")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="span must be one of"):
        richness(phi, out, span="constant")  # type: ignore[arg-type]


def test_outputs_constant_up_to_the_rank_tolerance() -> None:
    # Outputs that vary by 1e-9 around 100: span{F} is the constant function up to the rank
    # tolerance, which centring removes, so the default reading is undefined; the other reading
    # centres first and counts F_c's rank on its own scale.
    phi, _, _ = anisotropic(14)
    g = generator(14)
    out = 100.0 + 1e-9 * torch.randn(240, 3, generator=g, dtype=F64)
    with pytest.raises(ValueError, match="constant across samples up to the rank tolerance"):
        d_lr(phi, out)
    with pytest.raises(ValueError, match="span='outputs_and_constant'"):
        richness(phi, out)
    value = float(d_lr(phi, out, span="outputs_and_constant"))
    # The reference's rank tolerance is relative to the constant column: rescale the variation.
    variation = 1e9 * (out.numpy() - 100.0)
    assert value == pytest.approx(
        ref.d_lr(phi.numpy(), variation, span="outputs_and_constant"), abs=1e-6
    )
