"""The InformationPlane metric: streaming equals one shot, the cap, merging, nHSIC batching."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import Tensor

from infodyn.functional.dependence import mutual_information, nhsic
from infodyn.metrics.information_plane import KEYS, InformationPlane, information_plane_keys
from streaming import merged_and_single

Batch = tuple[Tensor, Tensor, Tensor]


def _batches(count: int, n: int = 40, num_classes: int = 3, seed: int = 0) -> list[Batch]:
    """Image-shaped inputs (n, 2, 3, 3), features a noisy function of them, labels from both."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(18, 6, generator=g)
    out = []
    for _ in range(count):
        labels = torch.randint(0, num_classes, (n,), generator=g)
        inputs = torch.randn(n, 2, 3, 3, generator=g) + labels[:, None, None, None]
        features = torch.tanh(inputs.flatten(1) @ mix) + 0.3 * torch.randn(n, 6, generator=g)
        out.append((features, inputs, labels))
    return out


def _cat(batches: list[Batch]) -> Batch:
    features, inputs, labels = (torch.cat(parts) for parts in zip(*batches, strict=True))
    return features, inputs, labels


def _assert_equal(
    got: dict[str, Tensor], expected: dict[str, Tensor], keys: tuple[str, ...] = KEYS
) -> None:
    assert list(got) == list(keys)
    for key in keys:
        assert got[key].shape == ()
        assert got[key].item() == pytest.approx(float(expected[key]), abs=1e-12), key


def _run(batches: list[Batch], **kwargs: object) -> dict[str, Tensor]:
    metric = InformationPlane(**kwargs)  # type: ignore[arg-type]
    for batch in batches:
        metric.update(*batch)
    return metric.compute()


def test_values_are_the_functional_estimators_on_the_kept_rows() -> None:
    features, inputs, labels = _cat(_batches(3))
    got = _run(_batches(3), nhsic_batch_size=30, nhsic_shuffle_seed=None)
    x = inputs.flatten(1)
    mi_zx = mutual_information(features, x).item()
    mi_zy = mutual_information(features, labels).item()
    nhsic_zx = nhsic(features, x, batch_size=30).item()
    nhsic_zy = nhsic(features, labels, batch_size=30).item()
    assert got["mi_zx"].item() == pytest.approx(mi_zx, abs=1e-12)
    assert got["mi_zy"].item() == pytest.approx(mi_zy, abs=1e-12)
    assert got["redundant_information"].item() == pytest.approx(mi_zx - mi_zy, abs=1e-12)
    assert got["nhsic_zx"].item() == pytest.approx(nhsic_zx, abs=1e-12)
    assert got["nhsic_zy"].item() == pytest.approx(nhsic_zy, abs=1e-12)
    assert got["nhsic_redundant"].item() == pytest.approx(nhsic_zx - nhsic_zy, abs=1e-12)
    assert mi_zy > 0.1 and nhsic_zy > 0.1  # the labels carry information, so zeros would show


def test_streamed_batches_equal_one_shot_on_the_concatenation() -> None:
    batches = _batches(4)
    for kwargs in (
        {},
        {"estimator": "binned", "num_bins": 5, "nhsic_batch_size": 50},
        {"estimator": "kl", "nhsic_batch_size": 50},
    ):
        keys = information_plane_keys(str(kwargs.get("estimator", "ksg")))
        _assert_equal(_run(batches, **kwargs), _run([_cat(batches)], **kwargs), keys)


def test_mi_keys_name_a_non_default_estimator() -> None:
    """KL values are stored as mi_zx_kl …, never under the KSG names; nHSIC keys stay."""
    features, inputs, labels = _cat(_batches(3))
    got = _run(_batches(3), estimator="kl", nhsic_batch_size=30, nhsic_shuffle_seed=None)
    assert list(got) == [
        "mi_zx_kl", "mi_zy_kl", "redundant_information_kl",
        "nhsic_zx", "nhsic_zy", "nhsic_redundant",
    ]  # fmt: skip
    x = inputs.flatten(1)
    mi_zx = mutual_information(features, x, estimator="kl").item()
    mi_zy = mutual_information(features, labels, estimator="kl").item()
    assert got["mi_zx_kl"].item() == pytest.approx(mi_zx, abs=1e-12)
    assert got["redundant_information_kl"].item() == pytest.approx(mi_zx - mi_zy, abs=1e-12)
    assert InformationPlane(estimator="kl").output_keys == information_plane_keys("kl")
    assert information_plane_keys("binned")[0] == "mi_zx_binned"


def test_keeps_the_first_max_samples_rows() -> None:
    batches = _batches(3)  # 120 rows
    features, inputs, labels = _cat(batches)
    got = _run(batches, max_samples=70, nhsic_batch_size=35)
    _assert_equal(got, _run([(features[:70], inputs[:70], labels[:70])], nhsic_batch_size=35))
    metric = InformationPlane(max_samples=70)
    for batch in batches:
        metric.update(*batch)
    assert sum(t.shape[0] for t in metric.kept_features) == 70  # memory is capped, too
    # A cap that cuts inside the second batch differs from using every row.
    every_row = _run(batches, nhsic_batch_size=35)
    assert abs(every_row["mi_zx"].item() - got["mi_zx"].item()) > 1e-6


def test_merged_instances_equal_one_instance() -> None:
    """Two instances merged (as DDP gathers their rows) equal one that saw every batch."""
    first, single = merged_and_single(lambda: InformationPlane(max_samples=130), _batches(4))
    _assert_equal(first.compute(), single.compute())


def test_nhsic_batches_mix_classes_even_when_rows_arrive_sorted() -> None:
    """Sorted rows, kept in order, give single-class batches where nHSIC(Z; Y) = 0 exactly."""
    features, inputs, labels = _cat(_batches(3))
    order = labels.argsort(stable=True)
    counts = torch.bincount(labels)
    batch = int(counts.min())  # the first batch lies inside class 0
    sorted_batch = (features[order], inputs[order], labels[order])
    in_order = _run([sorted_batch], nhsic_batch_size=batch, nhsic_shuffle_seed=None)
    shuffled = _run([sorted_batch], nhsic_batch_size=batch)
    assert shuffled["nhsic_zy"].item() > in_order["nhsic_zy"].item() + 0.1
    # The fixed order changes only the nHSIC batches, not the MI values.
    assert shuffled["mi_zy"].item() == pytest.approx(in_order["mi_zy"].item(), abs=1e-9)
    single_class = nhsic(features[order][:batch], labels[order][:batch])
    assert single_class.item() == pytest.approx(0.0, abs=1e-9)


def test_update_keeps_no_graph_and_reset_clears() -> None:
    features, inputs, labels = _batches(1)[0]
    metric = InformationPlane()
    metric.update(features.requires_grad_(True), inputs, labels)
    values = metric.compute()
    assert not any(v.requires_grad for v in values.values())
    assert all(not t.requires_grad for t in metric.kept_features)
    metric.reset()
    assert metric.kept_features == []


def test_integer_inputs_are_cast_and_flattened() -> None:
    features, inputs, labels = _batches(1)[0]
    tokens = (inputs.flatten(1)[:, :2] > 0).long()  # e.g. token ids, (n, 2)
    got = _run([(features, tokens, labels)])
    expected = mutual_information(features, tokens.double()).item()
    assert got["mi_zx"].item() == pytest.approx(expected, abs=1e-12)


def test_compute_before_update_is_an_error() -> None:
    metric = InformationPlane()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchmetrics' own notice
        with pytest.raises(RuntimeError, match=r"compute\(\) was called before update\(\)"):
            metric.compute()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_samples must be an integer >= 2"):
        InformationPlane(max_samples=1)
    with pytest.raises(ValueError, match="estimator must be one of"):
        InformationPlane(estimator="kde")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nhsic_batch_size must be an integer >= 2"):
        InformationPlane(nhsic_batch_size=1)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        InformationPlane(k=0)
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        InformationPlane(sigma=-1.0)
    features, inputs, labels = _batches(1)[0]
    metric = InformationPlane(num_classes=3)
    with pytest.raises(ValueError, match=r"labels must have shape \(40,\)"):
        metric.update(features, inputs, labels[:-1])
    with pytest.raises(ValueError, match="features has 40 samples but inputs has 39"):
        metric.update(features, inputs[:-1], labels)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        metric.update(features, inputs, labels + 3)
    with pytest.raises(ValueError, match="inputs contains 18 non-finite"):
        metric.update(
            features, inputs.index_put((torch.tensor(0),), torch.tensor(float("nan"))), labels
        )
    metric.update(features, inputs, labels)
    with pytest.raises(ValueError, match="features has 5 columns but earlier updates had 6"):
        metric.update(features[:, :5], inputs, labels)


def test_declares_its_inputs_for_the_monitor() -> None:
    assert InformationPlane.inputs == ("features", "inputs", "labels")
    assert InformationPlane.full_state_update is False
