"""The one pattern for metrics sized by their first batch: placeholder states (metrics/_lazy.py).

NeuralCollapse, Richness (covariance mode), TransferEntropy and LayerTransferEntropy's pairs
all follow it: reset() forgets a width learned from data and keeps a given one, merging widens
placeholders, and the states follow the device of the first batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor
from torchmetrics import Metric

from infodyn.functional import layer_transfer_entropy, te_information_plane
from infodyn.metrics import LayerTransferEntropy, NeuralCollapse, Richness, TransferEntropy
from infodyn.metrics._lazy import LazyWidthMetric


def _data(seed: int, n: int, d: int, c: int = 3) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % c
    features = 3.0 * torch.randn(c, d, generator=g)[labels] + torch.randn(n, d, generator=g)
    return features, labels, features @ torch.randn(d, c, generator=g)


def _binary(seed: int, t: int, m: int, n: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (t, m), generator=g), torch.randint(0, 2, (t, n), generator=g)


# name → (factory, feed(metric, seed, width, device))
Lazy = tuple[Callable[[], Metric], Callable[..., None]]


def _nc(metric: Metric, seed: int, d: int, device: str = "cpu") -> None:
    features, labels, _ = _data(seed, 30, d)
    metric.update(features.to(device), labels.to(device))


def _richness(metric: Metric, seed: int, d: int, device: str = "cpu") -> None:
    features, labels, logits = _data(seed, 40, d)
    metric.update(features.to(device), logits.to(device), labels.to(device))


def _te(metric: Metric, seed: int, d: int, device: str = "cpu") -> None:
    metric.update(*(x.to(device) for x in _binary(seed, 25, d, 3)))


LAZY: dict[str, Lazy] = {
    "neural_collapse": (lambda: NeuralCollapse(3), _nc),
    "richness_covariance": (lambda: Richness(mode="covariance"), _richness),
    "transfer_entropy": (TransferEntropy, _te),
}


def _assert_same(got: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-12, atol=1e-12, msg=key)


@pytest.mark.parametrize("name", list(LAZY))
def test_reset_forgets_a_width_learned_from_data(name: str) -> None:
    make, feed = LAZY[name]
    metric = make()
    feed(metric, 0, 5)
    metric.reset()
    assert isinstance(metric, LazyWidthMetric) and metric.lazy_widths() == {}
    feed(metric, 1, 7)  # another layer, of another width
    fresh = make()
    feed(fresh, 1, 7)
    _assert_same(metric.compute(), fresh.compute())


def test_a_width_given_at_construction_survives_reset() -> None:
    metric = NeuralCollapse(3, num_features=4)
    assert metric.sums.shape == (3, 4) and metric.second_moment.shape == (4, 4)
    _nc(metric, 0, 4)
    metric.reset()
    assert metric.sums.shape == (3, 4) and float(metric.sums.abs().sum()) == 0.0
    with pytest.raises(ValueError, match="features has 5 columns but num_features is 4"):
        _nc(metric, 0, 5)
    te = TransferEntropy(num_sources=5)  # one width given, the other learned
    assert te.source.shape == (5,) and te.past.shape == (0,)
    _te(te, 0, 5)
    assert te.lazy_widths() == {"m": 5, "n": 3}
    te.reset()
    assert te.lazy_widths() == {"m": 5} and te.source_past.shape == (5, 0)
    with pytest.raises(ValueError, match=r"source must have shape \(batch, 5\) as set at const"):
        _te(te, 0, 4)


@pytest.mark.parametrize("name", list(LAZY))
def test_merging_with_a_metric_that_saw_no_batch(name: str) -> None:
    make, feed = LAZY[name]
    fed, expected = make(), make()
    feed(fed, 2, 6)
    feed(expected, 2, 6)
    fed.merge_state(make())  # incoming placeholders are widened to zeros
    fresh = make()
    fresh.merge_state(expected)  # this side's placeholders take the incoming widths
    fresh._update_count = 1  # merge_state does not count updates; silence compute's warning
    _assert_same(fed.compute(), expected.compute())
    _assert_same(fresh.compute(), expected.compute())


@pytest.mark.parametrize("name", list(LAZY))
def test_merging_two_widths_is_an_error(name: str) -> None:
    make, feed = LAZY[name]
    a, b = make(), make()
    feed(a, 0, 4)
    feed(b, 0, 6)
    with pytest.raises(ValueError, match="one metric measures one layer"):
        a.merge_state(b)


def test_forward_accumulates_across_placeholders() -> None:
    """forward() resets to placeholders for the batch value, then adds the global state."""
    features, labels, logits = _data(3, 60, 5)
    stepped, whole = Richness(mode="covariance"), Richness(mode="covariance")
    for part in range(3):
        rows = slice(20 * part, 20 * part + 20)
        stepped(features[rows], logits[rows], labels[rows])
    whole.update(features, logits, labels)
    _assert_same(stepped.compute(), whole.compute())


class _Sum(LazyWidthMetric):
    """The smallest lazily sized metric: a column sum of width d and a row count."""

    total: Tensor
    rows: Tensor

    def __init__(self, d: int | None = None) -> None:
        super().__init__()
        self.add_lazy_state("total", ("d",), widths={"d": d}, dtype=torch.float32)
        self.add_state("rows", torch.zeros(()), "sum")

    def update(self, x: Tensor) -> None:
        self._follow_device(x.device)
        self._size_lazy_states({"d": x.shape[1]})
        self.total = self.total + x.sum(0).to(self.total.device)
        self.rows = self.rows + x.shape[0]

    def compute(self) -> Tensor:
        return self.total / self.rows


def _devices(metric: Metric) -> set[str]:
    states: list[Any] = list(metric.metric_state.values())
    return {str(t.device) for t in states}


def test_states_follow_the_device_of_the_first_batch() -> None:
    """A CPU-built metric fed on another device moves there whole; meta stands in for a GPU."""
    metric = _Sum()
    metric.update(torch.ones(4, 3, device="meta"))
    assert metric.device.type == "meta" and _devices(metric) == {"meta"}
    metric.reset()  # the defaults moved too: reset stays on the batch's device
    assert _devices(metric) == {"meta"}
    moved = _Sum().to("meta")  # built on CPU, moved before the first batch
    moved.update(torch.ones(4, 3, device="meta"))
    assert _devices(moved) == {"meta"} and moved.total.shape == (3,)
    holding = _Sum()
    holding.update(torch.ones(2, 3, device="meta"))
    holding.update(torch.ones(2, 3))  # a later batch joins the states' device
    assert _devices(holding) == {"meta"} and holding.device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(LAZY))
@pytest.mark.parametrize("moved", [False, True])
def test_cuda_states_live_where_the_batches_are(name: str, moved: bool) -> None:
    make, feed = LAZY[name]
    cpu, gpu = make(), make()
    if moved:
        gpu = gpu.to("cuda")
    feed(cpu, 4, 5)
    feed(gpu, 4, 5, "cuda")  # built on CPU, fed (or moved, then fed) on the GPU
    assert {d.split(":")[0] for d in _devices(gpu)} == {"cuda"}
    got = {k: v.cpu() for k, v in gpu.compute().items()}
    _assert_same(got, cpu.compute())


def test_layer_metric_on_one_batch_equals_the_functional_stack_and_plane() -> None:
    """One batch: per-batch binarisation is the functional layer-scope binarisation, so the
    metric's pairs and TE-plane coordinates are ``layer_transfer_entropy`` and
    ``te_information_plane`` exactly — and dotted module names work."""
    g = torch.Generator().manual_seed(8)
    acts = {"block.0": torch.randn(60, 3, 4, 4, generator=g), "head.fc": torch.randn(60, 5)}
    logits = torch.randn(60, 4, generator=g)
    metric = LayerTransferEntropy(list(acts), q=0.8)
    metric.update(acts, logits)
    values = metric.compute()
    pairs = layer_transfer_entropy({**acts, "softmax": logits.softmax(-1)}, q=0.8)
    assert set(values) == {"block.0->head.fc", "head.fc->softmax", "head.fc"}
    for pair in pairs:
        got = values[f"{pair.source}->{pair.target}"]
        assert torch.equal(got["te"], pair.matrix)
        assert float(got["te_mean"]) == pair.mean
    plane = te_information_plane(pairs)
    assert (float(values["head.fc"]["te_in"]), float(values["head.fc"]["te_out"])) == plane[
        "head.fc"
    ]
    assert values["head.fc"]["te_in"].dtype == torch.float64
