"""MatrixInformationLoss: value, sign, where gradients go, and argument checks."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from infodyn.functional import head_rows, matrix_information
from infodyn.losses import MatrixInformationLoss


def _batch(n: int = 20, d: int = 5, num_classes: int = 4) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    features = torch.randn(n, d, generator=g).requires_grad_(True)
    weight = torch.randn(num_classes, d, generator=g).requires_grad_(True)
    labels = torch.arange(n) % num_classes
    return features, weight, labels


def test_value_is_minus_mir_plus_hdr() -> None:
    features, weight, labels = _batch()
    result = matrix_information(features, head_rows(weight, labels))
    loss = MatrixInformationLoss(lambda_mir=0.7, lambda_hdr=0.2)(features, weight, labels)
    assert loss.dtype == features.dtype
    expected = -0.7 * result.mir + 0.2 * result.hdr
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    hdr_only = MatrixInformationLoss(lambda_hdr=0.5)(features, weight, labels)
    assert hdr_only.item() == pytest.approx(0.5 * result.hdr.item(), abs=1e-6)


def test_zero_weights_give_an_exact_zero() -> None:
    features, weight, labels = _batch()
    assert MatrixInformationLoss()(features, weight, labels).item() == 0.0


@pytest.mark.parametrize(
    ("detach", "features_get_grad", "head_gets_grad"),
    [("none", True, True), ("features", False, True), ("head", True, False)],
)
def test_detach_decides_where_gradients_go(
    detach: str, features_get_grad: bool, head_gets_grad: bool
) -> None:
    features, weight, labels = _batch()
    loss = MatrixInformationLoss(0.5, 0.5, detach=detach)(features, weight, labels)  # type: ignore[arg-type]
    loss.backward()
    assert (features.grad is not None and bool(features.grad.abs().sum() > 0)) == features_get_grad
    assert (weight.grad is not None and bool(weight.grad.abs().sum() > 0)) == head_gets_grad


def test_minimising_the_loss_raises_mir_and_lowers_hdr() -> None:
    """The sign is right: a few gradient steps on features alone move MIR up and HDR down."""
    features, weight, labels = _batch(n=24, d=6, num_classes=3)
    criterion = MatrixInformationLoss(lambda_mir=1.0, lambda_hdr=1.0, detach="head")
    before = matrix_information(features, head_rows(weight, labels))
    optimiser = torch.optim.SGD([features], lr=0.5)
    for _ in range(30):
        optimiser.zero_grad()
        criterion(features, weight, labels).backward()
        optimiser.step()
    after = matrix_information(features, head_rows(weight, labels))
    assert after.mir.item() > before.mir.item() + 0.05
    assert after.hdr.item() < before.hdr.item()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="lambda_mir must be a finite number >= 0"):
        MatrixInformationLoss(lambda_mir=-0.1)
    with pytest.raises(ValueError, match="lambda_hdr must be a finite number >= 0"):
        MatrixInformationLoss(lambda_hdr=float("nan"))
    with pytest.raises(ValueError, match="detach must be one of"):
        MatrixInformationLoss(0.1, detach="both")  # type: ignore[arg-type]
    features, weight, labels = _batch()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\]"):
        MatrixInformationLoss(0.1)(features, weight, labels + 1)
    with pytest.raises(ValueError, match="MIR is undefined"):
        MatrixInformationLoss(0.1)(features, weight, torch.zeros_like(labels))
