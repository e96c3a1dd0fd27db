"""ClassPairMargins: margins against a point placed at a known distance, streaming, errors."""

from __future__ import annotations

import warnings

import pytest
import torch

from infodyn.functional.collapse import margins
from infodyn.metrics import ClassPairMargins

F64 = torch.float64


def _head(c: int = 4, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(c, d, generator=g, dtype=F64), torch.randn(c, generator=g, dtype=F64)


def test_margins_are_signed_distances_to_the_pair_boundary_by_hand() -> None:
    """Points placed at known signed distances t from the a-vs-b hyperplane come back as t."""
    w, b = _head()
    a, c = 2, 0
    normal = w[a] - w[c]
    unit = normal / normal.norm()
    # a point on the boundary: ⟨w_a − w_c, p⟩ + b_a − b_c = 0
    on_boundary = -(b[a] - b[c]) * normal / normal.norm() ** 2
    distances = torch.tensor([-3.0, -0.5, 0.0, 0.25, 4.0], dtype=F64)
    g = torch.Generator().manual_seed(1)
    along = torch.randn(5, 5, generator=g, dtype=F64)
    along = along - (along @ unit)[:, None] * unit  # move within the boundary plane too
    features = on_boundary + along + distances[:, None] * unit
    labels = torch.tensor([a, c, a, c, a])
    metric = ClassPairMargins(a, c)
    metric.update(features, labels, w, b)
    got = metric.compute()
    torch.testing.assert_close(got["margins_a"], distances[[0, 2, 4]], rtol=0, atol=1e-12)
    torch.testing.assert_close(got["margins_b"], distances[[1, 3]], rtol=0, atol=1e-12)


def test_streamed_batches_equal_the_functional_on_the_pair_and_ignore_other_classes() -> None:
    w, b = _head()
    g = torch.Generator().manual_seed(2)
    features = torch.randn(60, 5, generator=g, dtype=F64)
    labels = torch.randint(0, 4, (60,), generator=g)
    metric = ClassPairMargins(1, 3)
    for rows in torch.arange(60).split(17):
        metric.update(features[rows], labels[rows], w, b)
    got = metric.compute()
    every = margins(features, w, b, 1, 3)
    torch.testing.assert_close(got["margins_a"], every[labels == 1])
    torch.testing.assert_close(got["margins_b"], every[labels == 3])
    metric.reset()
    assert metric.kept_features == [] and metric._head_weight is None


def test_bad_pairs_and_too_few_samples_are_refused_with_the_fix() -> None:
    w, b = _head(c=3)
    with pytest.raises(ValueError, match="both 1; a margin needs two different classes"):
        ClassPairMargins(1, 1)
    with pytest.raises(ValueError, match="class_b must be an integer >= 0"):
        ClassPairMargins(0, -1)
    metric = ClassPairMargins(0, 5)
    with pytest.raises(ValueError, match=r"class pair \(0, 5\) is outside the head's 3 classes"):
        metric.update(torch.randn(4, 5, dtype=F64), torch.tensor([0, 1, 2, 0]), w, b)
    metric = ClassPairMargins(0, 2)
    metric.update(torch.randn(4, 5, dtype=F64), torch.tensor([0, 1, 2, 0]), w, b)
    with pytest.raises(ValueError, match="class 2: 1\\); margins need at least 2 samples"):
        metric.compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchmetrics' own notice
        with pytest.raises(RuntimeError, match=r"compute\(\) was called before update\(\)"):
            ClassPairMargins(0, 1).compute()
