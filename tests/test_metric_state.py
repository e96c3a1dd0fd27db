"""Checkpointing live metrics: save after k batches, reload (weights_only), resume = uninterrupted.

Every infodyn metric, in every mode, lazily sized or not, before or after its first batch: the
resumed metric's ``compute()`` must equal the uninterrupted one exactly (the same float
operations run in the same order).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor
from torchmetrics import Metric

from infodyn.metrics import (
    InformationPlane,
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
    TransferEntropy,
    load_metric_state_dict,
    metric_state_dict,
)

BATCHES = 5


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _classified(seed: int, n: int = 30, d: int = 6, c: int = 3) -> list[tuple[Tensor, ...]]:
    """(features, head weight, labels, logits) batches around class means."""
    g = _generator(seed)
    weight = torch.randn(c, d, generator=g)
    out = []
    for _ in range(BATCHES):
        labels = torch.arange(n) % c
        features = 2.0 * weight[labels] + torch.randn(n, d, generator=g)
        out.append((features, weight, labels, features @ weight.T + 0.1))
    return out


def _binary(seed: int) -> list[tuple[Tensor, Tensor]]:
    g = _generator(seed)
    return [
        (torch.randint(0, 2, (17, 5), generator=g), torch.randint(0, 2, (17, 4), generator=g))
        for _ in range(BATCHES)
    ]


def _layers(seed: int) -> list[tuple[dict[str, Tensor], Tensor]]:
    g = _generator(seed)
    return [
        (
            {
                "block.0": torch.randn(20, 3, 4, 4, generator=g),
                "fc": torch.randn(20, 5, generator=g),
            },
            torch.randn(20, 4, generator=g),
        )
        for _ in range(BATCHES)
    ]


def _planes(seed: int) -> list[tuple[Tensor, Tensor, Tensor]]:
    g = _generator(seed)
    out = []
    for _ in range(BATCHES):
        labels = torch.randint(0, 3, (30,), generator=g)
        inputs = torch.randn(30, 2, 3, generator=g) + labels[:, None, None]
        out.append(
            (inputs.flatten(1)[:, :4] + 0.2 * torch.randn(30, 4, generator=g), inputs, labels)
        )
    return out


# name → (factory, batches, how to call update with one batch)
Case = tuple[Callable[[], Metric], list[Any], Callable[[Metric, Any], None]]


def _cases() -> dict[str, Case]:
    classified = _classified(0)

    def mi(m: Metric, b: Any) -> None:
        m.update(b[0], b[1], b[2])

    def nc(m: Metric, b: Any) -> None:
        m.update(b[0], b[2], b[1])

    def rich(m: Metric, b: Any) -> None:
        m.update(b[0], b[3], b[2])

    def plain(m: Metric, b: Any) -> None:
        m.update(*b)

    return {
        "matrix_information_batch_mean": (MatrixInformation, classified, mi),
        "matrix_information_pooled": (
            lambda: MatrixInformation(mode="pooled", max_samples=100),
            classified,
            mi,
        ),
        "transfer_entropy_lazy": (TransferEntropy, _binary(1), plain),
        "transfer_entropy_sized_delay_2": (
            lambda: TransferEntropy(5, 4, delay=2),
            _binary(2),
            plain,
        ),
        "layer_transfer_entropy": (
            lambda: LayerTransferEntropy(["block.0", "fc"], q=0.8),
            _layers(3),
            plain,
        ),
        "neural_collapse_lazy": (lambda: NeuralCollapse(3), classified, nc),
        "neural_collapse_sized": (
            lambda: NeuralCollapse(3, num_features=6, measures=["rnc1", "nc1", "nc3"]),
            classified,
            nc,
        ),
        "information_plane": (lambda: InformationPlane(max_samples=120), _planes(4), plain),
        "richness_samples": (lambda: Richness(max_samples=100), classified, rich),
        "richness_covariance": (lambda: Richness(mode="covariance"), classified, rich),
    }


def _round_trip(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _assert_same(got: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert set(got) == set(expected), where
        for key in expected:
            _assert_same(got[key], expected[key], f"{where}/{key}")
    else:
        assert got.dtype == expected.dtype and got.shape == expected.shape, where
        assert torch.equal(got, expected), where  # the same operations in the same order


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("k", [0, 2])
def test_resumed_metric_equals_the_uninterrupted_one(name: str, k: int) -> None:
    make, batches, feed = _cases()[name]
    whole = make()
    for batch in batches:
        feed(whole, batch)
    live = make()
    for batch in batches[:k]:
        feed(live, batch)
    saved = _round_trip(metric_state_dict(live))
    resumed = make()
    load_metric_state_dict(resumed, saved)
    for batch in batches[k:]:
        feed(resumed, batch)
    assert resumed.update_count == whole.update_count
    _assert_same(resumed.compute(), whole.compute())


def test_the_state_is_a_copy_of_tensors_only() -> None:
    metric = TransferEntropy()
    for batch in _binary(5)[:2]:
        metric.update(*batch)
    state = metric_state_dict(metric)
    assert all(
        isinstance(v, Tensor) or (isinstance(v, list) and all(isinstance(t, Tensor) for t in v))
        for v in state.values()
    )
    assert {"_tail_source", "_tail_target", "_update_count"} <= set(state)
    before = state["source_past"].clone()
    metric.update(*_binary(5)[2])
    assert torch.equal(state["source_past"], before)  # later updates do not leak in


def test_a_stream_tail_survives_the_checkpoint() -> None:
    """Without the tail, the transition across the checkpoint would be lost."""
    x, y = (
        torch.tensor(v)[:, None] for v in ([0, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 0, 0, 0])
    )
    live = TransferEntropy()
    live.update(x[:5], y[:5])
    resumed = TransferEntropy()
    load_metric_state_dict(resumed, _round_trip(metric_state_dict(live)))
    resumed.update(x[5:], y[5:])
    assert int(resumed.observations) == 8
    assert float(resumed.compute()["te"]) == 0.8112781244591328


def test_neural_collapse_nc4_means_survive_a_checkpoint_in_the_second_pass() -> None:
    batches = _classified(6)
    whole, live = NeuralCollapse(3), NeuralCollapse(3)
    for metric in (whole, live):
        for features, weight, labels, _ in batches:
            metric.update(features, labels, weight)
        metric.compute()  # first pass: remembers the class means for NC4
        metric.reset()
    for features, weight, labels, _ in batches:
        whole.update(features, labels, weight)
    for features, weight, labels, _ in batches[:2]:
        live.update(features, labels, weight)
    resumed = NeuralCollapse(3)
    load_metric_state_dict(resumed, _round_trip(metric_state_dict(live)))
    for features, weight, labels, _ in batches[2:]:
        resumed.update(features, labels, weight)
    expected, got = whole.compute(), resumed.compute()
    assert "nc4" in got and "nc3" in got
    _assert_same(got, expected)


def test_loading_checks_keys_kinds_and_widths_and_leaves_the_metric_alone() -> None:
    sized = TransferEntropy(5, 4)
    for batch in _binary(7)[:2]:
        sized.update(*batch)
    state = metric_state_dict(sized)
    with pytest.raises(
        ValueError, match=r"missing keys \['count'.*unexpected keys \['_tail_source'"
    ):
        load_metric_state_dict(Richness(mode="covariance"), state)
    other = TransferEntropy(3, 4)
    expected = r"'source_past' has shape \(5, 4\), which does not fit.*at construction: {'m': 3"
    with pytest.raises(ValueError, match=expected):
        load_metric_state_dict(other, state)
    assert other.source_past.shape == (3, 4) and other.update_count == 0
    bad = dict(state, source_past=state["source_past"][:, :2])  # widths disagree across states
    with pytest.raises(ValueError, match="has n = 4 but another state has n = 2"):
        load_metric_state_dict(TransferEntropy(), bad)
    with pytest.raises(ValueError, match=r"dtype torch\.float64, expected torch\.int64"):
        load_metric_state_dict(TransferEntropy(), dict(state, source=state["source"].double()))
    samples = Richness()
    with pytest.raises(ValueError, match="'kept_features' must be a list of tensors"):
        load_metric_state_dict(
            samples, dict(metric_state_dict(samples), kept_features=torch.ones(2))
        )
    lazy = TransferEntropy()
    load_metric_state_dict(lazy, state)  # a lazy metric takes the saved widths
    assert lazy.lazy_widths() == {"m": 5, "n": 4}


def test_a_synced_metric_refuses_to_be_saved() -> None:
    metric = MatrixInformation()
    metric._is_synced = True  # as inside compute() under DDP
    with pytest.raises(RuntimeError, match="synced across ranks"):
        metric_state_dict(metric)
