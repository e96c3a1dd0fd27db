"""Matrix entropy, MI, MIR and HDR against closed forms, brute-force references and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from infodyn.functional import (
    hdr,
    head_rows,
    matrix_entropy,
    matrix_information,
    matrix_mutual_information,
    mir,
)
from infodyn.functional.matrix_info import _matrix_information, _side, _unit_rows
from reference.matrix_info_reference import (
    collapse_closed_form,
    entropy_eigh,
    entropy_logm,
    gram,
    information,
    mutual_information,
    simplex_etf,
)

F64 = torch.float64


def _features(n: int, d: int, seed: int) -> Tensor:
    """Gaussian rows with row norms spread over two decades, so a missing normalisation shows."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.exp(torch.empty(n, 1, dtype=F64).uniform_(-2.3, 2.3, generator=g))
    return torch.randn(n, d, dtype=F64, generator=g) * scales


def _head(num_classes: int, d: int, n: int, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(num_classes, d, dtype=F64, generator=g)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    return weight, labels


# --- 1. closed forms -------------------------------------------------------------------------


def test_entropy_endpoints() -> None:
    n = 6
    assert matrix_entropy(torch.eye(n) * 3.0).item() == pytest.approx(math.log(n), abs=1e-12)
    signs = torch.tensor([1.0, -1.0, 2.0, -0.5, 1.0, 3.0])[:, None]
    assert matrix_entropy(signs * torch.randn(1, 4)).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("num_classes", "expected_mir"), [(4, 0.7539532), (10, 0.9523508)])
def test_neural_collapse_closed_form(num_classes: int, expected_mir: float) -> None:
    """Features collapsed onto a simplex-ETF head (neural collapse aligned with the head, as
    Song et al. 2024 describe its end point), in a larger ambient space."""
    rng = np.random.default_rng(num_classes)
    per_class, dim = 3, 2 * num_classes + 3
    etf = simplex_etf(num_classes, dim, rng)
    labels = np.repeat(np.arange(num_classes), per_class)
    # Head vectors and features get arbitrary positive lengths: only directions matter.
    weight = torch.from_numpy(etf * rng.uniform(0.5, 2.0, (num_classes, 1)))
    features = torch.from_numpy(etf[labels] * rng.uniform(0.1, 10.0, (labels.size, 1)))
    result = matrix_information(features, head_rows(weight, torch.from_numpy(labels)))

    expected = collapse_closed_form(num_classes)
    assert expected["mir"] == pytest.approx(expected_mir, abs=5e-8)  # printed closed form
    joint = result.entropy_features + result.entropy_head - result.mutual_information
    assert result.entropy_features.item() == pytest.approx(math.log(num_classes - 1), abs=1e-9)
    assert result.entropy_head.item() == pytest.approx(math.log(num_classes - 1), abs=1e-9)
    assert joint.item() == pytest.approx(expected["joint_entropy"], abs=1e-9)
    assert result.mir.item() == pytest.approx(expected_mir, abs=1e-7)
    assert result.hdr.item() == pytest.approx(0.0, abs=1e-12)


def test_neural_collapse_spec_values_for_ten_classes() -> None:
    assert collapse_closed_form(10)["entropy"] == pytest.approx(2.1972246, abs=5e-8)
    assert collapse_closed_form(10)["joint_entropy"] == pytest.approx(2.3019206, abs=5e-8)


def test_neural_collapse_many_classes() -> None:
    rng = np.random.default_rng(97)
    etf = simplex_etf(97, 100, rng)
    labels = torch.arange(97).repeat(2)
    weight = torch.from_numpy(etf)
    assert mir(head_rows(weight, labels) * 2.0, head_rows(weight, labels)).item() == pytest.approx(
        0.9977297, abs=1e-7
    )


def test_random_features_and_head_give_mir_near_zero() -> None:
    """Independent sides: the population joint second moment factorises,
    E[(ẑ⊗ŵ)(ẑ⊗ŵ)ᵀ] = E[ẑẑᵀ] ⊗ E[ŵŵᵀ], so H(K_Z∘K_W) = H_Z + H_W and MI = 0. What remains is a
    finite-sample bias of order d·C/n: at n = 1000, d = 8, C = 4 it measured 0.006–0.008 over
    five seeds, so 0.02 leaves room for any seed. (MIR is near 0 only for n ≫ d·C: with d ≫ n,
    K_Z ≈ I makes MIR ≈ 1 even for random features.)"""
    n, d, num_classes = 1000, 8, 4
    weight, labels = _head(num_classes, d, n, seed=3)
    value = mir(_features(n, d, seed=4), head_rows(weight, labels)).item()
    assert 0.0 <= value < 0.02
    # The same head with features that carry the label (its head row plus noise) scores far higher.
    aligned = head_rows(weight, labels) + 0.3 * torch.randn(n, d, dtype=F64)
    assert mir(aligned, head_rows(weight, labels)).item() > 0.5


# --- 2. brute-force references ---------------------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(6, 10), (7, 7), (5, 40)])
def test_entropy_matches_logm_on_full_rank(n: int, d: int) -> None:
    z = _features(n, d, seed=n * d)
    expected = entropy_logm(gram(z.numpy()))
    assert matrix_entropy(z).item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("n", "d"), [(40, 5), (30, 1), (9, 8), (6, 10)])
def test_entropy_matches_eigh_reference(n: int, d: int) -> None:
    z = _features(n, d, seed=n + d)
    expected = entropy_eigh(gram(z.numpy()))
    assert expected > 0.1 or d == 1
    assert matrix_entropy(z).item() == pytest.approx(expected, abs=1e-10)
    assert 0.0 <= matrix_entropy(z).item() <= math.log(n) + 1e-12


def test_mutual_information_matches_logm_on_full_rank() -> None:
    z1, z2 = _features(6, 8, seed=1), _features(6, 9, seed=2)
    expected = mutual_information(z1.numpy(), z2.numpy(), entropy=entropy_logm)
    assert matrix_mutual_information(z1, z2).item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("n", "d1", "d2"), [(30, 3, 4), (20, 5, 6), (12, 2, 30)])
def test_mutual_information_matches_eigh_reference(n: int, d1: int, d2: int) -> None:
    z1, z2 = _features(n, d1, seed=d1), _features(n, d2, seed=d2)
    expected = mutual_information(z1.numpy(), z2.numpy())
    assert matrix_mutual_information(z1, z2).item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("n", "d", "num_classes"), [(40, 6, 3), (25, 4, 10), (16, 20, 5)])
def test_matrix_information_matches_reference(n: int, d: int, num_classes: int) -> None:
    weight, labels = _head(num_classes, d + 1, n, seed=n)
    features, head = _features(n, d, seed=d), head_rows(weight, labels)
    result = matrix_information(features, head)._asdict()
    expected = information(features.numpy(), head.numpy())
    for key, value in expected.items():
        assert result[key].item() == pytest.approx(value, abs=1e-10), key
    assert 0.0 <= result["mir"].item() <= 1.0 + 1e-12
    assert 0.0 <= result["hdr"].item() <= 1.0 + 1e-12
    assert mir(features, head).item() == pytest.approx(expected["mir"], abs=1e-10)
    assert hdr(features, head).item() == pytest.approx(expected["hdr"], abs=1e-10)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rows_far_from_unit_scale_are_normalised(dtype: torch.dtype) -> None:
    """Squares of 1e±200 (float64) or 1e±30 (float32) leave the floating range."""
    big, small = (1e200, 1e-200) if dtype == torch.float64 else (1e30, 1e-30)
    direction = torch.tensor([[3.0, 4.0], [1.0, -2.0], [2.0, 1.0]], dtype=torch.float64)
    scaled = direction * torch.tensor([[big], [small], [1.0]], dtype=torch.float64)
    expected = matrix_entropy(direction, dtype=dtype).item()
    assert matrix_entropy(scaled.to(dtype), dtype=dtype).item() == pytest.approx(expected, abs=1e-6)


def test_float32_working_dtype_is_close() -> None:
    z1, z2 = _features(50, 6, seed=5), _features(50, 4, seed=6)
    value = matrix_mutual_information(z1.float(), z2.float(), dtype=torch.float32)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(matrix_mutual_information(z1, z2).item(), abs=1e-4)


# --- 3. the cheap algebra equals the plain one -------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(30, 5), (8, 12), (10, 10)])
def test_entropy_dual_equals_primal(n: int, d: int) -> None:
    u = _unit_rows("z", _features(n, d, seed=7), F64)
    dual = _side(u, path="dual", chunk_size=None, want_basis=False).entropy
    primal = _side(u, path="primal", chunk_size=None, want_basis=False).entropy
    assert dual.item() == pytest.approx(primal.item(), abs=1e-10)


@pytest.mark.parametrize(("n", "d", "num_classes"), [(40, 6, 3), (30, 3, 8), (12, 5, 4)])
def test_joint_dual_equals_primal(n: int, d: int, num_classes: int) -> None:
    """Covers the face-splitting dual with and without the head's rank reduction."""
    weight, labels = _head(num_classes, 7, n, seed=d)
    features, head = _features(n, d, seed=n), head_rows(weight, labels)
    results = {
        path: _matrix_information(features, head, dtype=F64, chunk_size=None, path=path)
        for path in ("auto", "dual", "primal")
    }
    for path in ("auto", "dual"):
        for a, b in zip(results[path], results["primal"], strict=True):
            assert a.item() == pytest.approx(b.item(), abs=1e-10)


@pytest.mark.parametrize(("n", "d", "chunk_size"), [(16, 16, None), (12, 30, 5), (2, 3, None)])
def test_batched_primal_eigenproblems_equal_the_separate_ones_bit_for_bit(
    n: int, d: int, chunk_size: int | None
) -> None:
    """When both Grams are n×n, one batched eigvalsh over (K_Z, K_W, K_Z∘K_W) gives each
    entropy exactly as its own eigenvalue problem does."""
    from infodyn.functional.matrix_info import _joint_entropy

    weight, labels = _head(3, d + 1, n, seed=n)
    z, head = _features(n, d, seed=d), head_rows(weight, labels)
    got = _matrix_information(z, head, dtype=F64, chunk_size=chunk_size, path="auto")
    u, v = _unit_rows("features", z, F64), _unit_rows("head", head, F64)
    side_z = _side(u, path="primal", chunk_size=chunk_size, want_basis=True)
    side_w = _side(v, path="primal", chunk_size=chunk_size, want_basis=True)
    joint = _joint_entropy(u, side_z, v, side_w, path="primal", chunk_size=chunk_size)
    assert torch.equal(got.entropy_features, side_z.entropy)
    assert torch.equal(got.entropy_head, side_w.entropy)
    assert torch.equal(got.mutual_information, side_z.entropy + side_w.entropy - joint)


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_chunk_size_does_not_change_values(chunk_size: int) -> None:
    z, w = _features(30, 4, seed=8), _features(30, 40, seed=9)
    assert matrix_entropy(z, chunk_size=chunk_size).item() == pytest.approx(
        matrix_entropy(z).item(), abs=1e-12
    )
    assert matrix_entropy(w, chunk_size=chunk_size).item() == pytest.approx(
        matrix_entropy(w).item(), abs=1e-12
    )
    weight, labels = _head(3, 5, 30, seed=10)
    head = head_rows(weight, labels)
    for path in ("dual", "primal"):
        chunked = _matrix_information(z, head, dtype=F64, chunk_size=chunk_size, path=path)
        whole = _matrix_information(z, head, dtype=F64, chunk_size=None, path=path)
        for a, b in zip(chunked, whole, strict=True):
            assert a.item() == pytest.approx(b.item(), abs=1e-12)


# --- 4. invariances ----------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(4, 24),
    d=st.integers(2, 8),
    num_classes=st.integers(2, 5),
)
def test_invariant_to_rotation_permutation_and_scale(
    seed: int, n: int, d: int, num_classes: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    features = _features(n, d, seed=seed)
    weight, labels = _head(num_classes, d, n, seed=seed + 1)
    labels[:2] = torch.tensor([0, 1])  # at least two classes, so MIR is defined
    head = head_rows(weight, labels)
    rotation, _ = torch.linalg.qr(torch.randn(d, d, dtype=F64, generator=g))
    perm = torch.randperm(n, generator=g)
    scales = torch.rand(n, 1, dtype=F64, generator=g) + 0.1

    base = matrix_information(features, head)
    variants = {
        "rotated features": matrix_information(features @ rotation, head),
        "rotated head": matrix_information(features, head @ rotation.mT),
        "permuted samples": matrix_information(features[perm], head[perm]),
        "rescaled rows": matrix_information(features * scales, head),
    }
    for name, result in variants.items():
        for a, b in zip(result, base, strict=True):
            assert a.item() == pytest.approx(b.item(), abs=1e-9), name


# --- 5. gradients ------------------------------------------------------------------------------


def _leaf(n: int, d: int, seed: int) -> Tensor:
    return _features(n, d, seed).requires_grad_(True)


@pytest.mark.parametrize(("n", "d"), [(6, 3), (4, 6)])  # dual, then n×n primal
def test_gradcheck_matrix_entropy(n: int, d: int) -> None:
    assert torch.autograd.gradcheck(matrix_entropy, (_leaf(n, d, seed=11),))


@pytest.mark.parametrize(("n", "d1", "d2"), [(8, 2, 3), (5, 3, 3)])  # joint dual, joint primal
def test_gradcheck_matrix_mutual_information(n: int, d1: int, d2: int) -> None:
    inputs = (_leaf(n, d1, seed=12), _leaf(n, d2, seed=13))
    assert torch.autograd.gradcheck(matrix_mutual_information, inputs)


@pytest.mark.parametrize("ratio", [mir, hdr])
def test_gradcheck_ratios(ratio) -> None:
    assert torch.autograd.gradcheck(ratio, (_leaf(9, 3, seed=14), _leaf(9, 2, seed=15)))


def test_gradcheck_through_rank_deficient_head_rows() -> None:
    """C = 2 classes in 4 dims: the head Gram has rank 2 and the joint uses the rank reduction."""
    labels = torch.arange(12) % 2
    features, weight = _leaf(12, 3, seed=16), _leaf(2, 4, seed=17)

    def ratios(f: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        result = matrix_information(f, head_rows(w, labels))
        return result.mir, result.hdr

    assert torch.autograd.gradcheck(ratios, (features, weight))


def test_gradient_is_finite_at_repeated_eigenvalues() -> None:
    """At collapse the C − 1 non-zero eigenvalues are equal; eigh's backward must not blow up."""
    etf = torch.eye(10, dtype=F64) - 0.1
    labels = torch.arange(30) % 10
    weight = etf.clone().requires_grad_(True)
    features = (2.0 * etf[labels]).requires_grad_(True)
    result = matrix_information(features, head_rows(weight, labels))
    (result.mir - result.hdr).backward()
    assert features.grad is not None and weight.grad is not None
    assert bool(torch.isfinite(features.grad).all()) and bool(torch.isfinite(weight.grad).all())


def test_head_rows_values_and_gradient() -> None:
    weight = torch.arange(6.0).reshape(3, 2).requires_grad_(True)
    rows = head_rows(weight, torch.tensor([2, 0, 2]))
    assert torch.equal(rows, torch.tensor([[4.0, 5.0], [0.0, 1.0], [4.0, 5.0]]))
    rows.sum().backward()
    assert weight.grad is not None
    assert torch.equal(weight.grad, torch.tensor([[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]))


# --- 6. errors ---------------------------------------------------------------------------------


def test_non_finite_inputs_are_rejected() -> None:
    z = torch.randn(5, 3)
    z[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"z contains 1 non-finite value.*\(2, 1\)"):
        matrix_entropy(z)
    w = torch.randn(5, 3)
    w[0, 0] = float("inf")
    with pytest.raises(ValueError, match="head contains 1 non-finite"):
        matrix_information(torch.randn(5, 3), w)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_wrong_rank_is_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"z1 must be 2-D \(samples, features\)"):
        matrix_mutual_information(torch.randn(shape), torch.randn(5, 2))


def test_mismatched_samples_and_small_batches_are_rejected() -> None:
    with pytest.raises(ValueError, match="features has 5 samples but head has 4"):
        mir(torch.randn(5, 3), torch.randn(4, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        matrix_entropy(torch.randn(1, 3))
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        matrix_entropy([[1.0, 2.0], [3.0, 4.0]])  # type: ignore[arg-type]


def test_zero_row_is_rejected_by_name_and_index() -> None:
    z = torch.randn(4, 3)
    z[3] = 0.0
    with pytest.raises(ValueError, match="features row 3 is all zeros"):
        hdr(z, torch.randn(4, 2))


def test_labels_out_of_range_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        head_rows(torch.randn(3, 4), torch.tensor([0, 3, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        head_rows(torch.randn(3, 4), torch.tensor([0.0, 1.0]))


def test_rank_one_batch_is_rejected() -> None:
    features = torch.randn(6, 4)
    same_label = head_rows(torch.randn(3, 4), torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"MIR is undefined.*head is rank-one"):
        matrix_information(features, same_label)
    # HDR is defined when only one side is rank-one (it is then 1) …
    assert hdr(features, same_label).item() == pytest.approx(1.0, abs=1e-12)
    # … and undefined when both are.
    with pytest.raises(ValueError, match=r"MIR and HDR are undefined.*features and head"):
        hdr(same_label * 2.0, same_label)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_size must be None or an integer >= 1, got 0"):
        matrix_entropy(torch.randn(4, 2), chunk_size=0)
    with pytest.raises(TypeError, match="dtype must be a real floating"):
        matrix_entropy(torch.randn(4, 2), dtype=torch.int64)
