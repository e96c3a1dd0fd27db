"""The stateful NeuralCollapse metric: streaming equals one-shot, merging, NC4 lag, options."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from infodyn.functional.collapse import MEASURES, nc4
from infodyn.metrics.collapse import ALL_MEASURES, NeuralCollapse
from reference.collapse_reference import reference_measures
from test_collapse import clustered


def _feed(metric: NeuralCollapse, parts: list[tuple[Tensor, ...]]) -> None:
    for part in parts:
        metric.update(*part)


def _split(features: Tensor, labels: Tensor, weight: Tensor, bias: Tensor, seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    cuts = sorted(torch.randperm(labels.numel() - 1, generator=g)[:3].add(1).tolist())
    xs, ys = torch.tensor_split(features, cuts), torch.tensor_split(labels, cuts)
    return [(x, y, weight, bias) for x, y in zip(xs, ys, strict=True)]


@pytest.mark.parametrize("seed", [0, 1])
def test_streamed_values_match_the_reference(seed: int) -> None:
    features, labels, weight, bias = clustered(5, 7, 40 + seed)
    metric = NeuralCollapse(5)
    parts = _split(features, labels, weight, bias, seed)
    _feed(metric, parts)
    first = metric.compute()
    # First pass: no class means known yet for NC4, so it is not reported.
    assert set(first) == set(MEASURES)
    expected = reference_measures(features.numpy(), labels.numpy(), 5, weight, bias)
    for name, value in first.items():
        assert value.shape == ()
        assert float(value) == pytest.approx(expected[name], rel=1e-9), name
    # A second pass over the same data measures NC4 against the first pass's means: exact.
    metric.reset()
    _feed(metric, parts)
    second = metric.compute()
    assert set(second) == set(ALL_MEASURES)
    assert float(second["nc4"]) == pytest.approx(expected["nc4"])
    assert float(second["nc4"]) == pytest.approx(float(nc4(features, labels, weight, bias)))


def test_rnc1_max_norm_option() -> None:
    features, labels, weight, bias = clustered(4, 6, 3)
    metric = NeuralCollapse(4, measures=["rnc1"], rnc1_norm="max")
    _feed(metric, _split(features, labels, weight, bias, 0))
    expected = reference_measures(features.numpy(), labels.numpy(), 4)["rnc1_max"]
    values = metric.compute()
    assert list(values) == ["rnc1_max"]  # the record names the paper's normalisation
    assert float(values["rnc1_max"]) == pytest.approx(expected, rel=1e-10)


def test_without_a_head_there_is_no_nc3_or_nc4() -> None:
    features, labels, _, _ = clustered(3, 4, 5)
    metric = NeuralCollapse(3)
    for _ in range(2):  # even on a second pass NC4 needs the head
        metric.reset()
        metric.update(features, labels)
        values = metric.compute()
    assert set(values) == set(MEASURES) - {"nc3"}


def test_measures_subset_returns_exactly_those_and_skips_the_d2_state() -> None:
    features, labels, weight, bias = clustered(4, 30, 6)
    narrow = NeuralCollapse(4, measures=["nc1_trace", "rnc1", "cdnv", "nc3"])
    narrow.update(features, labels, weight, bias)
    assert list(narrow.compute()) == ["nc1_trace", "rnc1", "cdnv", "nc3"]
    assert "second_moment" not in narrow.metric_state
    state_numbers = sum(v.numel() for v in narrow.metric_state.values())
    assert state_numbers < 4 * 30 + 4 * 3 + 10  # O(C·d), no d²
    wide = NeuralCollapse(4, measures=["nc1"])
    wide.update(features, labels)
    assert wide.metric_state["second_moment"].shape == (30, 30)


def test_merge_state_of_two_instances_equals_one_instance() -> None:
    features, labels, weight, bias = clustered(5, 6, 7)
    parts = _split(features, labels, weight, bias, 3)
    whole, left, right = NeuralCollapse(5), NeuralCollapse(5), NeuralCollapse(5)
    _feed(whole, parts)
    _feed(left, parts[:2])
    _feed(right, parts[2:])
    left.merge_state(right)
    merged, expected = left.compute(), whole.compute()
    for name in expected:
        assert float(merged[name]) == pytest.approx(float(expected[name]), rel=1e-12), name


@pytest.mark.filterwarnings("ignore:The ``compute`` method:UserWarning")  # intended here
def test_merging_into_a_fresh_instance_allocates_its_states() -> None:
    features, labels, _, _ = clustered(3, 5, 8)
    fresh, fed = NeuralCollapse(3), NeuralCollapse(3)
    fed.update(features, labels)
    fresh.merge_state(fed)
    assert float(fresh.compute()["nc1"]) == pytest.approx(float(fed.compute()["nc1"]))


def test_forward_returns_the_batch_value_and_keeps_accumulating() -> None:
    features, labels, _, _ = clustered(3, 4, 9, balanced=True)
    metric = NeuralCollapse(3, measures=["nc1_trace"])
    half = labels.numel() // 2
    batch_value = metric(features[:half], labels[:half])
    solo = NeuralCollapse(3, measures=["nc1_trace"])
    solo.update(features[:half], labels[:half])
    assert float(batch_value["nc1_trace"]) == pytest.approx(float(solo.compute()["nc1_trace"]))
    metric(features[half:], labels[half:])
    whole = NeuralCollapse(3, measures=["nc1_trace"])
    whole.update(features, labels)
    assert float(metric.compute()["nc1_trace"]) == pytest.approx(
        float(whole.compute()["nc1_trace"]), rel=1e-12
    )


def test_offset_1e4_with_the_default_zero_reference_and_with_a_reference() -> None:
    features, labels, _, _ = clustered(5, 16, 30, spread=1.0)
    offset = 1e4 * (1.0 + torch.rand(16, generator=torch.Generator().manual_seed(0)).double())
    names = ["within_class_variance", "nc1", "nc1_trace", "nc2_etf_error", "cdnv"]
    plain = NeuralCollapse(5, measures=names)
    plain.update(features, labels)
    expected = plain.compute()
    zero_ref = NeuralCollapse(5, measures=names)
    centred = NeuralCollapse(5, measures=names, reference=offset.round())  # a rough centre
    for part_x, part_y in zip(features.split(9), labels.split(9), strict=True):
        zero_ref.update(part_x + offset, part_y)
        centred.update(part_x + offset, part_y)
    near, rough = centred.compute(), zero_ref.compute()
    for name in names:
        # float64 alone keeps ~1e-8 (documented); a reference near the data restores ~1e-12.
        assert float(rough[name]) == pytest.approx(float(expected[name]), rel=1e-6), name
        assert float(near[name]) == pytest.approx(float(expected[name]), rel=1e-11), name


@pytest.mark.filterwarnings("ignore:The ``compute`` method:UserWarning")  # intended here
def test_reset_clears_the_statistics_and_the_head() -> None:
    features, labels, weight, bias = clustered(3, 4, 10)
    metric = NeuralCollapse(3)
    metric.update(features, labels, weight, bias)
    metric.compute()
    metric.reset()
    with pytest.raises(RuntimeError, match="before update"):
        metric.compute()
    metric.update(features, labels)
    assert "nc3" not in metric.compute()


def test_metric_contract() -> None:
    assert NeuralCollapse.inputs == ("features", "labels", "head_weight", "head_bias")
    assert NeuralCollapse.full_state_update is False
    assert NeuralCollapse.is_differentiable is False
    assert NeuralCollapse.higher_is_better is None
    metric = NeuralCollapse(4, num_features=6)
    assert metric.metric_state["sums"].shape == (4, 6)
    assert metric.metric_state["sums"].dtype == torch.float64


@pytest.mark.filterwarnings("ignore:The ``compute`` method:UserWarning")  # intended here
def test_bad_arguments_and_inputs() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        NeuralCollapse(1)
    with pytest.raises(ValueError, match="unknown or no measures"):
        NeuralCollapse(3, measures=["nc5"])
    with pytest.raises(ValueError, match="rnc1_norm must be one of 'mean', 'max'; got 'sup'"):
        NeuralCollapse(3, rnc1_norm="sup")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference must have shape"):
        NeuralCollapse(3, num_features=4, reference=torch.zeros(5))
    metric = NeuralCollapse(3)
    with pytest.raises(RuntimeError, match="before update"):
        metric.compute()
    metric.update(torch.randn(4, 5), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="earlier updates had 5"):
        metric.update(torch.randn(4, 6), torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="lie in"):
        metric.update(torch.randn(2, 5), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="weight has shape"):
        metric.update(torch.randn(2, 5), torch.tensor([0, 1]), torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"class 2 has no samples.*num_classes"):
        metric.compute()
