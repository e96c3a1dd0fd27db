"""HSIC, nHSIC and the k-NN / binned MI estimators against closed forms, references, invariances."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
from torch import Tensor

from infodyn.functional.dependence import (
    gaussian_kernel,
    hsic,
    linear_kernel,
    mutual_information,
    nhsic,
)
from reference import dependence_reference as ref

F64 = torch.float64


def _t(a: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _correlated(n: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard bivariate Gaussian pair with correlation ρ: I = −½ log(1 − ρ²) nats."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 1))
    b = rho * a + math.sqrt(1.0 - rho**2) * rng.standard_normal((n, 1))
    return a, b


# --- kernels, HSIC and nHSIC against the brute-force reference -------------------------------


def test_kernels_match_reference() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, (20, 6))
    np.testing.assert_allclose(gaussian_kernel(_t(x)).numpy(), ref.gaussian_kernel(x), atol=1e-12)
    np.testing.assert_allclose(
        gaussian_kernel(_t(x), sigma=0.7).numpy(), ref.gaussian_kernel(x, 0.7), atol=1e-12
    )
    np.testing.assert_allclose(linear_kernel(_t(x)).numpy(), x @ x.T, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_nhsic_and_hsic_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z, x = rng.normal(size=(60, 5)), rng.normal(size=(60, 9))
    x[:, :5] += 0.7 * z  # some dependence, so the value is not near a trivial one
    labels = rng.integers(0, 4, 60)
    kz, kx, ky = ref.gaussian_kernel(z), ref.gaussian_kernel(x), ref.label_kernel(labels)
    assert nhsic(_t(z), _t(x)).item() == pytest.approx(ref.nhsic(kz, kx), rel=1e-8)
    assert nhsic(_t(z), _t(labels)).item() == pytest.approx(ref.nhsic(kz, ky), rel=1e-8)
    assert nhsic(_t(z), _t(x), sigma=1.0, epsilon=1e-3).item() == pytest.approx(
        ref.nhsic(ref.gaussian_kernel(z, 1.0), ref.gaussian_kernel(x, 1.0), 1e-3), rel=1e-8
    )
    linear = nhsic(_t(z), _t(x), kernel_z="linear", kernel_x="linear").item()
    assert linear == pytest.approx(ref.nhsic(z @ z.T, x @ x.T), rel=1e-6)
    assert hsic(_t(z), _t(x)).item() == pytest.approx(ref.hsic(kz, kx), rel=1e-8)
    assert hsic(_t(z), _t(labels)).item() == pytest.approx(ref.hsic(kz, ky), rel=1e-8)


def test_batched_nhsic_is_the_mean_over_consecutive_full_batches() -> None:
    rng = np.random.default_rng(2)
    z, labels = rng.normal(size=(95, 3)), rng.integers(0, 3, 95)
    expected = np.mean(
        [
            ref.nhsic(ref.gaussian_kernel(z[i : i + 30]), ref.label_kernel(labels[i : i + 30]))
            for i in (0, 30, 60)  # the last 5 rows do not fill a batch and are dropped
        ]
    )
    assert nhsic(_t(z), _t(labels), batch_size=30).item() == pytest.approx(expected, rel=1e-8)
    expected_hsic = np.mean(
        [
            ref.hsic(ref.gaussian_kernel(z[i : i + 30]), ref.label_kernel(labels[i : i + 30]))
            for i in (0, 30, 60)
        ]
    )
    assert hsic(_t(z), _t(labels), batch_size=30).item() == pytest.approx(expected_hsic, rel=1e-8)
    assert nhsic(_t(z), _t(labels), batch_size=500).item() == pytest.approx(
        nhsic(_t(z), _t(labels)).item(), rel=1e-12
    )


def test_one_sided_centring_gives_the_two_sided_trace() -> None:
    """Why K·H (the authors' algebra) and H·K·H (the textbook one) give the same nHSIC."""
    rng = np.random.default_rng(3)
    kz, kx = (
        ref.gaussian_kernel(rng.normal(size=(40, 2))),
        ref.gaussian_kernel(rng.normal(size=(40, 3))),
    )
    h = ref.centring(40)
    two_sided = ref.nhsic(h @ kz @ h, h @ kx @ h)  # K·H of HKH is HKH again
    assert ref.nhsic(kz, kx) == pytest.approx(two_sided, rel=1e-8)


def test_nhsic_and_hsic_are_differentiable_in_z() -> None:
    g = torch.Generator().manual_seed(6)
    z = torch.randn(8, 2, dtype=F64, generator=g, requires_grad=True)
    x = torch.randn(8, 3, dtype=F64, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    assert torch.autograd.gradcheck(lambda v: nhsic(v, x, sigma=0.5, epsilon=1e-2), (z,))
    assert torch.autograd.gradcheck(lambda v: hsic(v, labels, sigma=0.5), (z,))


# --- nHSIC closed forms and range ------------------------------------------------------------


def test_nhsic_maximum_for_far_apart_samples_is_n_minus_one() -> None:
    """Samples far apart vs the bandwidth: K = I, R = H/(1 + εn), so
    nHSIC(Z; Z) = (n − 1)/(1 + εn)², just under the bound n − 1."""
    n = 50
    z = 1e3 * torch.randn(n, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    expected = (n - 1) / (1 + 1e-5 * n) ** 2
    assert nhsic(z, z).item() == pytest.approx(expected, rel=1e-9)


def test_nhsic_maximum_for_labels_is_num_classes_minus_one() -> None:
    """C balanced classes of n_c samples: HYYᵀH has C − 1 eigenvalues n_c, so
    tr R_Y = (C − 1)·n_c/(n_c + εn) — the maximum of nHSIC(Z; Y) over Z — and features that
    cluster by class (K_Z = YYᵀ) reach it squared."""
    c, per_class = 5, 20
    labels = torch.arange(c * per_class) % c
    n = labels.numel()
    clusters = 1e3 * torch.randn(c, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    z = clusters[labels] + 1e-3 * torch.randn(n, 3, dtype=F64)
    ratio = per_class / (per_class + 1e-5 * n)
    assert nhsic(z, labels).item() == pytest.approx((c - 1) * ratio**2, rel=1e-6)
    onehot = torch.eye(c, dtype=F64)[labels]
    assert nhsic(onehot, labels, kernel_z="linear").item() == pytest.approx(
        (c - 1) * ratio**2, rel=1e-9
    )
    assert ref.resolvent_trace(ref.label_kernel(labels.numpy())) == pytest.approx(
        (c - 1) * ratio, rel=1e-9
    )


def test_nhsic_of_independent_variables_is_near_zero_and_dependent_near_maximum() -> None:
    """Independent: nHSIC ≈ tr R_Z·tr R_X/(n − 1), a small fraction of the bound
    min(tr R_Z, tr R_X); Z = X + small noise: close to the bound."""
    g = torch.Generator().manual_seed(4)
    n, batch = 1000, 100
    z, x = torch.randn(n, 1, dtype=F64, generator=g), torch.randn(n, 1, dtype=F64, generator=g)
    bound = np.mean(
        [
            min(
                ref.resolvent_trace(ref.gaussian_kernel(z[i : i + batch].numpy())),
                ref.resolvent_trace(ref.gaussian_kernel(x[i : i + batch].numpy())),
            )
            for i in range(0, n, batch)
        ]
    )
    independent = nhsic(z, x, batch_size=batch).item()
    dependent = nhsic(z, z + 1e-3 * x, batch_size=batch).item()
    assert 0.0 <= independent < 0.15 * bound
    assert 0.9 * bound < dependent <= bound + 1e-9


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 25),
    dz=st.integers(1, 4),
    dx=st.integers(1, 4),
    scale=st.floats(0.1, 30.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_nhsic_lies_between_zero_and_the_smaller_resolvent_trace(
    n: int, dz: int, dx: int, scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    z, x = scale * rng.normal(size=(n, dz)), scale * rng.normal(size=(n, dx))
    value = nhsic(_t(z), _t(x)).item()
    bound = min(
        ref.resolvent_trace(ref.gaussian_kernel(z)), ref.resolvent_trace(ref.gaussian_kernel(x))
    )
    assert -1e-9 <= value <= bound + 1e-7
    assert bound < n - 1
    assert hsic(_t(z), _t(x)).item() >= -1e-12


def test_dependence_measures_are_invariant_to_sample_permutation() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(size=(300, 3))
    x = np.hstack([z[:, :1] ** 2, rng.normal(size=(300, 2))])
    labels = (z[:, 0] > 0).astype(np.int64) + (z[:, 1] > 0)
    perm = rng.permutation(300)
    zp, xp, yp = _t(z[perm]), _t(x[perm]), _t(labels[perm])
    zt, xt, yt = _t(z), _t(x), _t(labels)
    assert nhsic(zp, xp).item() == pytest.approx(nhsic(zt, xt).item(), rel=1e-8)
    assert hsic(zp, yp).item() == pytest.approx(hsic(zt, yt).item(), rel=1e-8)
    for estimator in ("ksg", "binned"):
        for other, other_p in ((xt, xp), (yt, yp)):
            got = mutual_information(zp, other_p, estimator=estimator).item()
            assert got == pytest.approx(
                mutual_information(zt, other, estimator=estimator).item(), abs=1e-9
            )


# --- KSG, continuous ---------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ksg_on_correlated_gaussians(rho: float) -> None:
    a, b = _correlated(5000, rho, seed=int(10 * rho))
    got = mutual_information(_t(a), _t(b)).item()
    assert got == pytest.approx(-0.5 * math.log(1.0 - rho**2), abs=0.05)
    assert got == pytest.approx(ref.ksg(ref.compress(a), ref.compress(b)), abs=1e-9)


def test_ksg_matches_scikit_learn() -> None:
    a, b = _correlated(3000, 0.6, seed=7)
    expected = mutual_info_regression(a, b[:, 0], n_neighbors=5, random_state=0)[0]
    assert mutual_information(_t(a), _t(b)).item() == pytest.approx(expected, abs=5e-3)


def test_ksg_projects_and_whitens_like_the_reference() -> None:
    """Wide variables go through PCA to project_dim, then whitening (both refitted per call)."""
    rng = np.random.default_rng(8)
    latent = rng.normal(size=(400, 3))
    z = latent @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(400, 12))
    x = latent[:, :2] @ rng.normal(size=(2, 7)) + 0.3 * rng.normal(size=(400, 7))
    for project_dim in (2, 4):
        expected = ref.ksg(ref.compress(z, project_dim), ref.compress(x, project_dim), k=3)
        got = mutual_information(_t(z), _t(x), k=3, project_dim=project_dim).item()
        assert got == pytest.approx(expected, abs=1e-9)
    assert mutual_information(_t(z), _t(x), project_dim=None).item() == pytest.approx(
        ref.ksg(ref.compress(z, None), ref.compress(x, None)), abs=1e-9
    )


def test_whitening_makes_ksg_invariant_to_linear_maps_of_z() -> None:
    rng = np.random.default_rng(9)
    a, b = _correlated(2000, 0.8, seed=9)
    z = np.hstack([a, rng.normal(size=(2000, 1))])  # I(Z; X) = −½ log(1 − 0.64)
    base = mutual_information(_t(z), _t(b)).item()
    # Lower-triangular with positive diagonal, plus a shift: Cholesky whitening undoes it.
    triangular = np.array([[2.0, 0.0], [-1.5, 0.5]])
    shifted = mutual_information(_t(z @ triangular.T + 5.0), _t(b)).item()
    assert shifted == pytest.approx(base, abs=1e-3)
    # Any invertible map: whitened coordinates differ by a rotation; the max-norm changes a bit.
    general = np.array([[0.3, 2.0], [1.0, 1.0]])
    rotated = mutual_information(_t(z @ general.T), _t(b)).item()
    assert rotated == pytest.approx(base, abs=0.03)
    assert base == pytest.approx(-0.5 * math.log(1 - 0.64), abs=0.05)
    # Without whitening a badly scaled column dominates the max-norm and the estimate drops.
    unscaled = mutual_information(_t(z * np.array([1.0, 1e3])), _t(b), whiten=False).item()
    assert unscaled < base - 0.2


def test_chunk_size_does_not_change_the_value() -> None:
    rng = np.random.default_rng(10)
    z, x = rng.normal(size=(257, 3)), rng.normal(size=(257, 2))
    x[:, 0] += z[:, 0]
    labels = rng.integers(0, 5, 257)
    for other in (_t(x), _t(labels)):
        one_shot = mutual_information(_t(z), other, chunk_size=1000)
        for chunk_size in (1, 7, 64, None):
            assert torch.equal(mutual_information(_t(z), other, chunk_size=chunk_size), one_shot)


# --- KSG, discrete labels (Ross 2014) --------------------------------------------------------


def test_discrete_ksg_on_separated_classes_is_log_num_classes() -> None:
    """Well-separated balanced classes: every k-ball holds only its own class, m = k, and
    I = ψ(N) − ψ(N/C) → log C."""
    c, n = 4, 1000
    labels = torch.arange(n) % c
    z = 50.0 * torch.eye(c, 2, dtype=F64)[labels] + torch.randn(n, 2, dtype=F64)
    z[labels == 3] -= 50.0
    got = mutual_information(z, labels).item()
    assert got == pytest.approx(digamma(n) - digamma(n // c), abs=1e-9)
    assert got == pytest.approx(math.log(c), abs=0.01)


def test_discrete_ksg_of_independent_labels_is_near_zero() -> None:
    g = torch.Generator().manual_seed(11)
    z = torch.randn(3000, 2, dtype=F64, generator=g)
    labels = torch.randint(0, 3, (3000,), generator=g)
    assert abs(mutual_information(z, labels).item()) < 0.02


def test_discrete_ksg_matches_reference_with_small_and_singleton_classes() -> None:
    rng = np.random.default_rng(12)
    labels = np.concatenate([rng.integers(0, 3, 200), [3, 3, 3], [4], [5, 5]])
    z = rng.normal(size=(labels.size, 3)) + 0.8 * np.eye(6, 3)[labels]
    expected = ref.ksg_discrete(ref.compress(z), labels)
    assert mutual_information(_t(z), _t(labels)).item() == pytest.approx(expected, abs=1e-9)


def test_discrete_ksg_matches_scikit_learn() -> None:
    rng = np.random.default_rng(13)
    labels = rng.integers(0, 3, 2000)
    z = rng.normal(size=(2000, 1)) + 0.7 * labels[:, None]
    expected = mutual_info_classif(z, labels, n_neighbors=5, random_state=0)[0]
    assert expected > 0.1
    assert mutual_information(_t(z), _t(labels)).item() == pytest.approx(expected, abs=5e-3)


# --- binned (Shwartz-Ziv & Tishby) ------------------------------------------------------------


def test_binned_matches_plug_in_reference() -> None:
    rng = np.random.default_rng(14)
    z = rng.normal(size=(500, 2))
    x = np.hstack([z[:, :1] + 0.5 * rng.normal(size=(500, 1)), rng.normal(size=(500, 1))])
    labels = (z[:, 0] > 0.3).astype(np.int64)
    for bins in (3, 10, 30):
        kw = {"estimator": "binned", "num_bins": bins, "project_dim": None, "whiten": False}
        got = mutual_information(_t(z), _t(x), **kw).item()  # type: ignore[arg-type]
        assert got == pytest.approx(ref.binned(z, x, None, bins), abs=1e-12)
        got_y = mutual_information(_t(z), _t(labels), **kw).item()  # type: ignore[arg-type]
        assert got_y == pytest.approx(ref.binned(z, None, labels, bins), abs=1e-12)
    # Default preprocessing: whitened projections, then the same bins.
    expected = ref.binned(ref.compress(z), ref.compress(x), None, 10)
    got = mutual_information(_t(z), _t(x), estimator="binned", num_bins=10).item()
    assert got == pytest.approx(expected, abs=1e-12)


def test_binned_saturates_at_log_n_when_every_sample_has_its_own_bin() -> None:
    """The classic plane's bias: with more cells than samples, I = log N for any data."""
    g = torch.Generator().manual_seed(15)
    z, x = torch.randn(300, 4, dtype=F64, generator=g), torch.randn(300, 4, dtype=F64, generator=g)
    got = mutual_information(z, x, estimator="binned", num_bins=30).item()
    assert got == pytest.approx(math.log(300), abs=0.02)
    assert got <= math.log(300) + 1e-12


# --- the information plane's shared computations --------------------------------------------


def test_max_norm_blocks_are_cdist_bit_for_bit() -> None:
    from infodyn.functional._ksg import _MaxNormBlocks, distance_row_slices

    rng = np.random.default_rng(14)
    for n, d in ((1, 1), (9, 1), (50, 4), (130, 7)):
        v = _t(rng.normal(size=(n, d)))
        v[n // 2] = v[0]  # a duplicate row: distance exactly 0
        expected = torch.cdist(v, v, p=float("inf"))
        expected.fill_diagonal_(torch.inf)
        for chunk_size in (None, 1, 8, 1000):
            slices = distance_row_slices(n, chunk_size)
            blocks = _MaxNormBlocks(v, max(s.stop - s.start for s in slices))
            got = torch.cat([blocks.block(rows).clone() for rows in slices])
            assert torch.equal(got, expected), (n, d, chunk_size)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(12, 150),
    num_classes=st.integers(2, 6),
    k=st.integers(1, 6),
    chunk_size=st.sampled_from([None, 1, 7, 64]),
    ties=st.booleans(),
    singleton=st.booleans(),
)
def test_information_plane_pairs_equal_the_separate_calls_bit_for_bit(
    seed: int,
    n: int,
    num_classes: int,
    k: int,
    chunk_size: int | None,
    ties: bool,
    singleton: bool,
) -> None:
    """I(Z;X), I(Z;Y) with Z's projection and distance blocks shared, and nHSIC with Z's
    resolvents shared, are the public functions' values exactly."""
    from infodyn.functional.dependence import _mutual_information_pair, _nhsic_pair

    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 6))
    x = rng.normal(size=(n, 5)) + z[:, :1]
    if ties:  # coarse values: equal distances, where a strict count is most fragile
        z, x = np.round(z), np.round(x)
    labels = rng.integers(0, num_classes, n)
    if singleton:
        labels[0] = num_classes  # a class seen once: Ross's estimator drops it
    zt, xt, yt = _t(z), _t(x), _t(labels)
    estimators = ["ksg", "binned"]
    if np.unique(labels, return_counts=True)[1].min() >= 2:
        estimators.append("kl")  # the KL estimator needs 2 samples in every class
    for estimator in estimators:
        options: dict[str, Any] = {"estimator": estimator, "k": k, "chunk_size": chunk_size}
        pair = _mutual_information_pair(zt, xt, yt, **options)
        assert torch.equal(pair[0], mutual_information(zt, xt, **options))
        assert torch.equal(pair[1], mutual_information(zt, yt, **options))
    for batch_size in (None, 10):
        zx, zy = _nhsic_pair(zt, xt, yt, batch_size=batch_size)
        assert torch.equal(zx, nhsic(zt, xt, batch_size=batch_size))
        assert torch.equal(zy, nhsic(zt, yt, batch_size=batch_size))


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_same_class_radii_by_class_blocks_equal_the_masked_rows(
    chunk_size: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few classes: Ross's radii come from each class's own distance blocks; many: from the
    same-class entries of full rows. Both give the same floats, so the same estimate."""
    import infodyn.functional._ksg as ksg

    rng = np.random.default_rng(15)
    labels = np.concatenate([rng.integers(0, 4, 150), [4, 4], [5, 5, 5]])  # small classes too
    z = rng.normal(size=(labels.size, 3)) + 0.5 * np.eye(6, 3)[labels]
    for features in (z, np.round(z, 1)):  # and with ties at the radii
        values = []
        for cost in (0, 1 << 40):  # every class by blocks / never
            monkeypatch.setattr(ksg, "_CLASS_BLOCK_COST", cost)
            values.append(mutual_information(_t(features), _t(labels), chunk_size=chunk_size))
        assert torch.equal(values[0], values[1])
    expected = ref.ksg_discrete(ref.compress(z), labels)
    assert mutual_information(_t(z), _t(labels)).item() == pytest.approx(expected, abs=1e-9)


# --- errors ------------------------------------------------------------------------------------


def test_bad_arguments_are_rejected() -> None:
    z = torch.randn(20, 3, dtype=F64)
    labels = torch.arange(20) % 4
    with pytest.raises(ValueError, match="needs more than k = 5"):
        mutual_information(z[:5], labels[:5])
    with pytest.raises(ValueError, match="at least 2 samples"):
        nhsic(z[:1], labels[:1])
    with pytest.raises(ValueError, match="z has 20 samples but x_or_labels has 19"):
        mutual_information(z, z[:19])
    with pytest.raises(ValueError, match="z has 20 samples but x_or_labels has 19"):
        nhsic(z, labels[:19])
    bad = z.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        mutual_information(bad, labels)
    with pytest.raises(ValueError, match="non-finite"):
        hsic(z, bad)
    with pytest.raises(ValueError, match="no feature columns"):
        nhsic(torch.zeros(20, 0), labels)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        mutual_information(z, labels, k=0)
    with pytest.raises(ValueError, match="estimator must be one of"):
        mutual_information(z, labels, estimator="kde")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        mutual_information(z, labels, num_classes=3)
    with pytest.raises(ValueError, match=r"holds values in \[-1, 2\]"):
        nhsic(z, labels - 1)
    with pytest.raises(ValueError, match="pass integer class labels"):
        nhsic(z, labels.double())
    with pytest.raises(ValueError, match="labels use the linear kernel"):
        nhsic(z, labels, kernel_x="gaussian")
    with pytest.raises(ValueError, match="kernel_z must be one of"):
        hsic(z, z, kernel_z="rbf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        nhsic(z, labels, batch_size=1)
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        gaussian_kernel(z, sigma=0.0)
    with pytest.raises(ValueError, match="epsilon must be a positive number"):
        nhsic(z, z, epsilon=-1.0)
    with pytest.raises(ValueError, match="project_dim must be None or an integer >= 1, got 0"):
        mutual_information(z, z, project_dim=0)
    with pytest.raises(ValueError, match="chunk_size must be None or an integer >= 1, got 0"):
        mutual_information(z, z, chunk_size=0)
    with pytest.raises(ValueError, match="no class with 2 or more samples"):
        mutual_information(z[:8], torch.arange(8), k=2)
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        mutual_information(z.numpy(), labels)  # type: ignore[arg-type]
