"""Device and precision errors: tensors on two devices, half precision, CUDA asked where absent."""

from __future__ import annotations

import pytest
import torch

from infodyn.metrics import (
    ClassPairMargins,
    InformationPlane,
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
    TransferEntropy,
)

N, D, C = 12, 5, 3


def _inputs(device_of: str) -> dict[str, torch.Tensor]:
    """Every captured quantity on the CPU, except ``device_of`` on the meta device."""
    values = {
        "features": torch.randn(N, D),
        "labels": torch.arange(N) % C,
        "head_weight": torch.randn(C, D),
        "head_bias": torch.zeros(C),
        "logits": torch.randn(N, C),
        "inputs": torch.randn(N, 4),
    }
    values[device_of] = torch.empty_like(values[device_of], device="meta")
    return values


CASES = [
    (lambda: MatrixInformation(), ("features", "head_weight", "labels"), "head_weight"),
    (lambda: NeuralCollapse(C), ("features", "labels", "head_weight", "head_bias"), "labels"),
    (lambda: Richness(), ("features", "logits", "labels"), "logits"),
    (lambda: InformationPlane(num_classes=C), ("features", "inputs", "labels"), "inputs"),
    (lambda: ClassPairMargins(0, 1), ("features", "labels", "head_weight", "head_bias"), "labels"),
]


@pytest.mark.parametrize(("make", "names", "moved"), CASES)
def test_two_devices_are_named(make, names, moved) -> None:  # type: ignore[no-untyped-def]
    values = _inputs(moved)
    with pytest.raises(ValueError, match=f"is on cpu but {moved} is on meta"):
        make().update(**{k: values[k] for k in names})


def test_two_devices_in_transfer_entropy() -> None:
    x = torch.zeros(N, 2)
    with pytest.raises(ValueError, match="source is on cpu but target is on meta"):
        TransferEntropy().update(x, torch.zeros(N, 2, device="meta"))
    layer = LayerTransferEntropy(["a"])
    with pytest.raises(ValueError, match="a is on cpu but logits is on meta"):
        layer.update({"a": torch.randn(N, 3)}, torch.randn(N, C, device="meta"))


def test_half_precision_features_are_promoted_exactly() -> None:
    g = torch.Generator().manual_seed(0)
    features = torch.randn(40, D, generator=g).half()
    labels = torch.arange(40) % C
    head = torch.randn(C, D, generator=g).half()
    for make in (lambda: NeuralCollapse(C), lambda: MatrixInformation()):
        half, full = make(), make()
        kwargs = {"head_weight": head} if isinstance(half, MatrixInformation) else {}
        half.update(features=features, labels=labels, **kwargs)
        full_kwargs = {"head_weight": head.double()} if kwargs else {}
        full.update(features=features.double(), labels=labels, **full_kwargs)
        for key, value in full.compute().items():
            torch.testing.assert_close(half.compute()[key], value, rtol=1e-12, atol=1e-12)


def test_cuda_asked_where_there_is_none() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    from infodyn.config import ConfigError, build_config
    from infodyn.experiments.grokking import GrokkingConfig

    with pytest.raises(ConfigError, match="no CUDA device is available"):
        build_config(GrokkingConfig, ["device=cuda:0"])


def test_float32_products_stay_within_their_stated_bound() -> None:
    g = torch.Generator().manual_seed(1)
    means = 3.0 * torch.randn(C, 64, generator=g)
    labels = torch.arange(3000) % C
    features = means[labels] + torch.randn(3000, 64, generator=g)
    exact, fast = NeuralCollapse(C), NeuralCollapse(C, precision="float32")
    for lo in range(0, 3000, 500):
        exact.update(features[lo : lo + 500], labels[lo : lo + 500])
        fast.update(features[lo : lo + 500], labels[lo : lo + 500])
    got, want = fast.compute(), exact.compute()
    # √b·2⁻²⁴ ≈ 1.3e-6 relative in each batch statistic, ×‖μ‖²/V_W ≈ 9 here
    for key in want:
        assert float((got[key] - want[key]).abs()) <= 1e-4 * float(want[key].abs()), key
    with pytest.raises(ValueError, match="precision"):
        NeuralCollapse(C, precision="half")  # type: ignore[arg-type]


def test_the_finiteness_check_reads_a_sum_and_falls_back_on_overflow() -> None:
    from infodyn._validation import check_finite

    check_finite("x", torch.full((10,), 3e38))  # finite entries whose float32 sum overflows
    check_finite("x", torch.empty(0))
    for bad, count in (([1.0, float("nan")], 1), ([float("inf"), -float("inf"), 2.0], 2)):
        with pytest.raises(ValueError, match=f"x contains {count} non-finite value"):
            check_finite("x", torch.tensor(bad))
