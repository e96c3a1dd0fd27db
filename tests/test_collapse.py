"""Functional neural-collapse measures: reference, closed forms, invariances, streaming, errors."""

from __future__ import annotations

import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from infodyn.functional.collapse import (
    MEASURES,
    between_class_variance,
    cdnv,
    margins,
    mean_feature_norm,
    nc1,
    nc1_trace,
    nc2_cond,
    nc2_equiangularity,
    nc2_equinorm,
    nc2_etf_error,
    nc3,
    nc4,
    rnc1,
    within_class_variance,
)
from infodyn.functional.collapse_stats import (
    _collapse_compute,
    _collapse_update,
    _merge,
)
from reference.collapse_reference import reference_margins, reference_measures

LABEL_ONLY = {
    "within_class_variance": within_class_variance,
    "between_class_variance": between_class_variance,
    "mean_feature_norm": mean_feature_norm,
    "rnc1": rnc1,
    "nc1": nc1,
    "nc1_trace": nc1_trace,
    "nc2_equinorm": nc2_equinorm,
    "nc2_equiangularity": nc2_equiangularity,
    "nc2_etf_error": nc2_etf_error,
    "nc2_cond": nc2_cond,
    "cdnv": cdnv,
}
# Unchanged by adding a common offset to every feature (the rest depend on ‖h‖ or on M).
OFFSET_INVARIANT = (
    "within_class_variance",
    "between_class_variance",
    "nc1",
    "nc1_trace",
    "nc2_equinorm",
    "nc2_equiangularity",
    "nc2_etf_error",
    "cdnv",
)


def clustered(
    num_classes: int, d: int, seed: int, *, balanced: bool = False, spread: float = 0.7
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Features around random class means, unbalanced unless asked, a noisy head and bias."""
    g = torch.Generator().manual_seed(seed)
    sizes = [6] * num_classes if balanced else torch.randint(2, 15, (num_classes,), generator=g)
    labels = torch.cat([torch.full((int(k),), c) for c, k in enumerate(sizes)])
    labels = labels[torch.randperm(labels.numel(), generator=g)]
    means = 2.0 * torch.randn(num_classes, d, generator=g, dtype=torch.float64)
    features = means[labels] + spread * torch.randn(labels.numel(), d, generator=g).double()
    weight = means + 1.5 * torch.randn(num_classes, d, generator=g, dtype=torch.float64)
    bias = torch.randn(num_classes, generator=g, dtype=torch.float64)
    return features, labels, weight, bias


def simplex_etf(num_classes: int, d: int, scale: float, seed: int) -> Tensor:
    """(C, d) rows forming a centred simplex ETF, embedded by a random orthonormal map."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, num_classes, generator=g, dtype=torch.float64))[0]
    etf = torch.eye(num_classes, dtype=torch.float64) - 1.0 / num_classes
    return scale * etf @ basis.mT


def all_measures(features: Tensor, labels: Tensor, weight: Tensor, bias: Tensor) -> dict:
    out = {name: float(fn(features, labels)) for name, fn in LABEL_ONLY.items()}
    out["rnc1_max"] = float(rnc1(features, labels, norm="max"))
    out["nc3"] = float(nc3(features, labels, weight))
    out["nc4"] = float(nc4(features, labels, weight, bias))
    return out


@pytest.mark.parametrize(
    ("num_classes", "d", "seed", "balanced"),
    [(3, 5, 0, False), (4, 2, 1, False), (5, 8, 2, True), (6, 12, 3, False), (7, 6, 4, False)],
)
def test_every_measure_matches_the_numpy_reference(
    num_classes: int, d: int, seed: int, balanced: bool
) -> None:
    features, labels, weight, bias = clustered(num_classes, d, seed, balanced=balanced)
    got = all_measures(features, labels, weight, bias)
    expected = reference_measures(features.numpy(), labels.numpy(), num_classes, weight, bias)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    # A head this noisy disagrees with the nearest class mean on some samples, so NC4 is tested.
    assert 0.0 < got["nc4"] < 1.0


def test_float32_features_are_measured_in_float64() -> None:
    features, labels, _, _ = clustered(4, 6, 9)
    value = nc1(features.float(), labels)
    assert value.dtype == torch.float64
    expected = reference_measures(features.float().double().numpy(), labels.numpy(), 4)["nc1"]
    assert float(value) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("num_classes", "d"), [(3, 3), (4, 9), (7, 20)])
def test_exact_simplex_etf_with_zero_spread_gives_the_collapse_values(
    num_classes: int, d: int
) -> None:
    means = simplex_etf(num_classes, d, scale=3.0, seed=num_classes) + 5.0  # offset μ_G
    labels = torch.arange(num_classes).repeat(4)
    features = means[labels]
    head = 0.25 * (means - means.mean(0))  # W ∝ M̃
    for name in ("within_class_variance", "rnc1", "nc1", "nc1_trace", "cdnv"):
        assert abs(float(LABEL_ONLY[name](features, labels))) < 1e-12, name
    for name in ("nc2_equinorm", "nc2_equiangularity", "nc2_etf_error"):
        assert abs(float(LABEL_ONLY[name](features, labels))) < 1e-9, name
    assert float(nc3(features, labels, head)) < 1e-12
    # Logits W(μ_G + m) + b: with b = −Wμ_G the head is the nearest-mean rule.
    bias = -head @ means.mean(0)
    assert float(nc4(features, labels, head, bias)) == 0.0
    assert float(nc4(features, labels, -head, -bias)) == 1.0  # a reversed head
    # V_B of a centred ETF of scale s: ‖s(e_c − 1/C)‖² = s²(1 − 1/C).
    assert float(between_class_variance(features, labels)) == pytest.approx(
        9.0 * (1 - 1 / num_classes), rel=1e-12
    )


def test_breaking_the_etf_moves_every_nc2_measure_off_zero() -> None:
    means = simplex_etf(4, 6, scale=1.0, seed=0)
    means[0] *= 1.5  # one class mean longer and (after re-centring) at other angles
    labels = torch.arange(4).repeat(3)
    for name in ("nc2_equinorm", "nc2_equiangularity", "nc2_etf_error"):
        assert float(LABEL_ONLY[name](means[labels], labels)) > 0.05, name


def test_nc2_cond_equals_the_constructed_condition_number() -> None:
    g = torch.Generator().manual_seed(5)
    u = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(10, 4, generator=g, dtype=torch.float64))[0]
    singular_values = torch.tensor([7.0, 3.0, 2.0, 0.5], dtype=torch.float64)
    means = u @ torch.diag(singular_values) @ v.mT  # uncentred M with chosen σ
    labels = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0, 0])
    assert float(nc2_cond(means[labels], labels)) == pytest.approx(14.0, rel=1e-10)
    # Rank-deficient M (a centred ETF): infinite, not NaN.
    etf = simplex_etf(3, 5, 1.0, 0)
    assert float(nc2_cond(etf[labels % 3], labels % 3)) > 1e12


def test_sample_permutation_changes_nothing() -> None:
    features, labels, weight, bias = clustered(5, 7, 11)
    perm = torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(0))
    before = all_measures(features, labels, weight, bias)
    after = all_measures(features[perm], labels[perm], weight, bias)
    for name, value in before.items():
        assert after[name] == pytest.approx(value, rel=1e-10), name


def test_orthogonal_rotation_of_features_and_head_changes_nothing() -> None:
    features, labels, weight, bias = clustered(6, 8, 12)
    rotation = torch.linalg.qr(
        torch.randn(8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )[0]
    before = all_measures(features, labels, weight, bias)
    after = all_measures(features @ rotation.mT, labels, weight @ rotation.mT, bias)
    # mean_feature_norm and rnc1 too: norms are rotation-invariant.
    for name, value in before.items():
        assert after[name] == pytest.approx(value, rel=1e-9), name


def test_scaling_features_leaves_the_ratios_unchanged() -> None:
    features, labels, _, _ = clustered(4, 5, 13)
    for name in ("rnc1", "nc1", "nc1_trace", "nc2_equinorm", "nc2_etf_error", "cdnv"):
        fn = LABEL_ONLY[name]
        assert float(fn(3.7 * features, labels)) == pytest.approx(
            float(fn(features, labels)), rel=1e-10
        ), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_over_random_batch_splits_equals_one_shot(seed: int) -> None:
    features, labels, weight, _ = clustered(5, 6, 20 + seed)
    g = torch.Generator().manual_seed(seed)
    cuts = sorted(torch.randperm(labels.numel() - 1, generator=g)[:4].add(1).tolist())
    stats = None
    for part_x, part_y in zip(
        torch.tensor_split(features, cuts), torch.tensor_split(labels, cuts), strict=True
    ):
        # Each batch gets its own reference (its own mean): _merge must re-express them.
        batch = _collapse_update(part_x, part_y, 5, second_moment=True)
        stats = batch if stats is None else _merge(stats, batch)
    assert stats is not None
    streamed = _collapse_compute(stats, weight=weight)
    one_shot = _collapse_compute(
        _collapse_update(features, labels, 5, second_moment=True), weight=weight
    )
    assert set(streamed) == set(MEASURES)
    for name in MEASURES:
        assert float(streamed[name]) == pytest.approx(float(one_shot[name]), rel=1e-10), name


def test_merge_rejects_mismatched_statistics() -> None:
    features, labels, _, _ = clustered(3, 4, 0)
    a = _collapse_update(features, labels, 3, second_moment=True)
    with pytest.raises(ValueError, match="with and without the second moment"):
        _merge(a, _collapse_update(features, labels, 3, second_moment=False))
    with pytest.raises(ValueError, match="same number of classes"):
        _merge(a, _collapse_update(features, labels, 4, second_moment=True))


def test_an_offset_of_1e4_gives_the_same_values_to_1e_10() -> None:
    features, labels, weight, bias = clustered(5, 16, 30, spread=1.0)
    offset = 1e4 * (1.0 + torch.rand(16, generator=torch.Generator().manual_seed(0)).double())
    shifted = features + offset
    # Without the shift by a reference, float64 cancellation alone costs ~1e-8 here.
    for name in OFFSET_INVARIANT:
        fn = LABEL_ONLY[name]
        assert float(fn(shifted, labels)) == pytest.approx(
            float(fn(features, labels)), rel=1e-10
        ), name
    assert float(nc3(shifted, labels, weight)) == pytest.approx(
        float(nc3(features, labels, weight)), rel=1e-10
    )
    # Same logits after the shift: b' = b − W·offset. Nearest means are offset-invariant.
    assert float(nc4(shifted, labels, weight, bias - weight @ offset)) == pytest.approx(
        float(nc4(features, labels, weight, bias))
    )
    # RNC1 = V_W / s²: V_W is kept, s is the new mean norm.
    s = float(mean_feature_norm(shifted, labels))
    assert float(rnc1(shifted, labels)) * s**2 == pytest.approx(
        float(within_class_variance(features, labels)), rel=1e-10
    )


def test_streaming_with_an_offset_of_1e4_is_stable_too() -> None:
    features, labels, _, _ = clustered(4, 8, 31, spread=1.0)
    shifted = features + 1e4
    parts = zip(torch.tensor_split(shifted, 3), torch.tensor_split(labels, 3), strict=True)
    stats = None
    for x, y in parts:
        batch = _collapse_update(x, y, 4, second_moment=True)
        stats = batch if stats is None else _merge(stats, batch)
    assert stats is not None
    streamed = _collapse_compute(stats, measures=OFFSET_INVARIANT)
    for name in OFFSET_INVARIANT:
        expected = float(LABEL_ONLY[name](features, labels))
        assert float(streamed[name]) == pytest.approx(expected, rel=1e-10), name


def test_margins_equal_the_distance_of_a_point_placed_off_the_boundary() -> None:
    g = torch.Generator().manual_seed(3)
    weight = torch.randn(4, 6, generator=g, dtype=torch.float64)
    bias = torch.tensor([0.5, -2.0, 1.0, 3.0], dtype=torch.float64)
    a, b = 1, 3
    normal = weight[a] - weight[b]
    unit = normal / normal.norm()
    # A point on the boundary ⟨w_a − w_b, h⟩ + b_a − b_b = 0, then moved along the unit normal.
    on_boundary = -(bias[a] - bias[b]) / normal.norm() * unit
    tangent = torch.randn(6, generator=g, dtype=torch.float64)
    tangent = tangent - (tangent @ unit) * unit  # moving along the boundary changes nothing
    distances = torch.tensor([-2.5, 0.0, 0.75, 4.0], dtype=torch.float64)
    points = on_boundary + tangent + distances[:, None] * unit
    got = margins(points, weight, bias, a, b)
    assert torch.allclose(got, distances, atol=1e-12)
    assert torch.allclose(margins(points, weight, bias, b, a), -distances, atol=1e-12)
    expected = reference_margins(points.numpy(), weight.numpy(), bias.numpy(), a, b)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    no_bias = margins(points, weight, None, a, b)
    assert torch.allclose(no_bias, distances - (bias[a] - bias[b]) / normal.norm(), atol=1e-12)


# ---- bad inputs ---------------------------------------------------------------------------


def test_one_class_only_is_rejected() -> None:
    features = torch.randn(6, 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        rnc1(features, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2 classes"):
        rnc1(features, torch.full((6,), 2), num_classes=3)


def test_a_class_named_but_absent_is_reported_with_the_fix() -> None:
    labels = torch.tensor([0, 0, 2, 2, 3, 3])
    with pytest.raises(ValueError, match=r"class 1 has no samples.*pass the right num_classes"):
        nc1(torch.randn(6, 3), labels)
    with pytest.raises(ValueError, match="class 4 has no samples"):
        cdnv(torch.randn(6, 3), torch.tensor([0, 0, 1, 1, 2, 3]), num_classes=5)


@pytest.mark.parametrize(
    ("features", "labels", "kwargs", "error", "match"),
    [
        (torch.randn(4, 2), torch.tensor([0, 1, 5, 1]), {"num_classes": 3}, ValueError, "lie in"),
        (torch.randn(4, 2), torch.tensor([0, -1, 1, 1]), {}, ValueError, "lie in"),
        (torch.randn(4, 0), torch.tensor([0, 1, 0, 1]), {}, ValueError, "no feature columns"),
        (torch.randn(1, 3), torch.tensor([0]), {}, ValueError, "at least 2 samples"),
        (torch.randn(4, 3), torch.tensor([0, 1, 0]), {}, ValueError, "pair one-to-one"),
        (torch.randn(4, 3), torch.tensor([0.0, 1, 0, 1]), {}, TypeError, "integer class"),
        (torch.randn(4), torch.tensor([0, 1, 0, 1]), {}, ValueError, "must be 2-D"),
        (torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), {"num_classes": 1}, ValueError, "2 cl"),
    ],
)
def test_bad_inputs_raise_with_a_message(
    features: Tensor, labels: Tensor, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        within_class_variance(features, labels, **kwargs)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_features_are_rejected(bad: float) -> None:
    features = torch.randn(6, 3)
    features[2, 1] = bad
    with pytest.raises(ValueError, match="non-finite"):
        nc1(features, torch.tensor([0, 1, 2, 0, 1, 2]))


def test_coincident_class_means_are_rejected_not_nan() -> None:
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    with pytest.raises(ValueError, match="class means coincide"):
        nc1_trace(features, torch.tensor([0, 0, 1, 1]))


def test_head_and_option_checks() -> None:
    features, labels, weight, bias = clustered(3, 4, 0)
    with pytest.raises(ValueError, match=r"weight has shape \(3, 5\)"):
        nc3(features, labels, torch.randn(3, 5))
    with pytest.raises(ValueError, match="bias has shape"):
        nc4(features, labels, weight, torch.zeros(4))
    with pytest.raises(ValueError, match="norm must be one of 'mean', 'max'; got 'median'"):
        rnc1(features, labels, norm="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two different classes"):
        margins(features, weight, bias, 1, 1)
    with pytest.raises(ValueError, match=r"class_b must be an integer in \[0, 2\], got 3"):
        margins(features, weight, bias, 0, 3)
    stats = _collapse_update(features, labels, 3, second_moment=False)
    with pytest.raises(ValueError, match="second moment"):
        _collapse_compute(stats, measures=["nc1"])
    with pytest.raises(ValueError, match="unknown measure"):
        _collapse_compute(stats, measures=["nc9"])


def test_the_rnc1_digits_example_runs_on_a_tiny_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn")
    script = Path(__file__).resolve().parents[1] / "examples" / "rnc1_digits.py"
    argv = [str(script), "--out", str(tmp_path), "--steps", "30", "--points", "4"]
    monkeypatch.setattr(sys, "argv", [*argv, "--threads", "1"])
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "rnc1_digits.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "RNC1 train" in printed and "saved" in printed
