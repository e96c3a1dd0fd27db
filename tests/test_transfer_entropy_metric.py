"""Streaming TE equals the one-shot estimate exactly, over any batch split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pyinform.transferentropy import transfer_entropy as pyinform_te

from infodyn.functional import transfer_entropy, transition_counts
from infodyn.metrics import LayerTransferEntropy, TransferEntropy


def _series(seed: int, t: int = 200, m: int = 5, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(t, m, generator=g) < 0.3).to(torch.uint8)
    y = (torch.rand(t, n, generator=g) < 0.5).to(torch.uint8)
    y[1:, 0] = x[:-1, 1]  # one coupled pair so the values are not all near zero
    return x, y


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=199), max_size=12, unique=True),
    delay=st.sampled_from([0, 1, 2, 3]),
    seed=st.integers(0, 10_000),
)
def test_streaming_over_any_split_equals_one_shot(cuts: list[int], delay: int, seed: int) -> None:
    x, y = _series(seed)
    metric = TransferEntropy(5, 4, delay=delay)
    bounds = [0, *sorted(cuts), 200]
    for lo, hi in itertools.pairwise(bounds):
        metric.update(x[lo:hi], y[lo:hi])
    expected = transfer_entropy(x, y, delay=delay)
    assert torch.equal(metric.compute()["te"], expected)  # integer counts: exactly equal


def test_one_sample_batches_and_reset() -> None:
    x, y = _series(1, t=30)
    metric = TransferEntropy(5, 4)
    for t in range(30):
        metric.update(x[t : t + 1], y[t : t + 1])
    assert torch.equal(metric.compute()["te"], transfer_entropy(x, y))
    metric.reset()  # a new series: no transition from the old tail
    metric.update(x[:10], y[:10])
    assert torch.equal(metric.compute()["te"], transfer_entropy(x[:10], y[:10]))
    assert int(metric.observations) == 9


def test_summaries_and_forward() -> None:
    x, y = _series(2)
    metric = TransferEntropy(5, 4)
    assert metric(x, y) is None  # forward accumulates only
    values = metric.compute()
    te = values["te"]
    assert float(values["te_mean"]) == pytest.approx(float(te.mean()))
    assert float(values["te_max"]) == float(te.max())
    assert float(values["te_sum"]) == pytest.approx(float(te.sum()))


def test_merged_states_pool_two_streams_as_trials() -> None:
    """Summing states (what DDP does) pools the two streams without a cross-stream step."""
    (xa, ya), (xb, yb) = _series(3), _series(4)
    a, b = TransferEntropy(5, 4), TransferEntropy(5, 4)
    a.update(xa, ya)
    b.update(xb, yb)
    a.merge_state(b)
    pooled = transition_counts(xa, ya) + transition_counts(xb, yb)
    assert int(a.observations) == int(pooled.observations) == 2 * 199
    assert torch.equal(a.source_both, pooled.source_both)


def test_new_series_pools_trials_like_pyinform_initial_conditions() -> None:
    """Two series with a break between them = PyInform's TE over two initial conditions."""
    (xa, ya), (xb, yb) = _series(5, t=120), _series(6, t=120)
    metric = TransferEntropy(5, 4)
    for lo in range(0, 120, 50):  # the first series in batches, a break, then the second
        metric.update(xa[lo : lo + 50], ya[lo : lo + 50])
    metric.new_series()
    metric.update(xb[:7], yb[:7])
    metric.update(xb[7:], yb[7:])
    assert int(metric.observations) == 2 * 119  # no transition across the break
    got = metric.compute()["te"].numpy()
    for i, j in itertools.product(range(5), range(4)):
        trials_x = np.stack([xa[:, i].numpy(), xb[:, i].numpy()]).astype(np.int32)
        trials_y = np.stack([ya[:, j].numpy(), yb[:, j].numpy()]).astype(np.int32)
        assert got[i, j] == pytest.approx(pyinform_te(trials_x, trials_y, k=1), abs=1e-12)
    joined = TransferEntropy(5, 4)
    joined.update(torch.cat([xa, xb]), torch.cat([ya, yb]))
    assert int(joined.observations) == 2 * 119 + 1  # without the break: one more transition
    assert not np.allclose(joined.compute()["te"].numpy(), got, rtol=0, atol=1e-12)


def test_errors_name_the_argument() -> None:
    metric = TransferEntropy(5, 4)
    with (
        pytest.warns(UserWarning, match="before the ``update``"),
        pytest.raises(RuntimeError, match="at least one transition"),
    ):
        metric.compute()
    with pytest.raises(ValueError, match=r"source must have shape \(batch, 5\)"):
        metric.update(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="source has 10 samples but target has 9"):
        metric.update(torch.zeros(10, 5), torch.zeros(9, 4))
    with pytest.raises(ValueError, match="must be binary"):
        metric.update(torch.full((10, 5), 2), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="num_sources must be None or an integer >= 1, got 0"):
        TransferEntropy(0, 4)


def test_layer_metric_binarises_each_batch_and_builds_the_plane() -> None:
    g = torch.Generator().manual_seed(0)
    acts = [
        {"a": torch.randn(40, 3, generator=g), "b": torch.randn(40, 2, 2, 2, generator=g)}
        for _ in range(3)
    ]
    logits = [torch.randn(40, 4, generator=g) for _ in range(3)]
    metric = LayerTransferEntropy(["a", "b"], q=0.8)
    for batch, out in zip(acts, logits, strict=True):
        metric.update(batch, out)
    values = metric.compute()
    assert set(values) == {"a->b", "b->softmax", "b"}
    assert values["a->b"]["te"].shape == (3, 2)  # conv map (2 channels) → channel means
    assert values["b"]["te_in"] == values["a->b"]["te_mean"]
    assert values["b"]["te_out"] == values["b->softmax"]["te_mean"]
    with pytest.raises(ValueError, match=r"no entry for layer\(s\) \['b'\]"):
        metric.update({"a": torch.randn(40, 3)}, logits[0])
    with pytest.raises(ValueError, match="logits are needed"):
        metric.update(acts[0], None)
    with pytest.raises(ValueError, match="at least an adjacent pair"):
        LayerTransferEntropy(["a"], softmax_output=False)


def test_float32_product_route_equals_int8_route() -> None:
    """The non-CPU route (float32 GEMM, TF32 off) gives the same exact counts; run on CPU."""
    from infodyn.functional.te import _float32_products, _products

    g = torch.Generator().manual_seed(5)
    left = torch.randint(0, 2, (7, 3000), generator=g, dtype=torch.int8)
    right = torch.randint(0, 2, (3000, 9), generator=g, dtype=torch.int8)
    expected = left.long() @ right.long()
    assert torch.equal(_products(left, right), expected)  # CPU: int8 GEMM
    assert torch.equal(_float32_products(left, right), expected)


def test_table_and_xlogy_routes_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long series (N > 2^22) use xlogy instead of the c·ln c table; both give one value."""
    import infodyn.functional.te as te_module

    x, y = _series(7, t=3000)
    by_table = transfer_entropy(x, y)
    monkeypatch.setattr(te_module, "_TABLE_LIMIT", 0)
    torch.testing.assert_close(transfer_entropy(x, y), by_table, rtol=0, atol=1e-14)


def test_widths_learned_from_the_first_batch_are_checked_like_given_ones() -> None:
    metric = TransferEntropy()
    with pytest.raises(ValueError, match=r"source must be 2-D \(batch, neurons\).*reshape"):
        metric.update(torch.zeros(10), torch.zeros(10, 4))
    x, y = _series(8)
    metric.update(x[:50], y[:50])
    assert (metric.num_sources, metric.num_targets) == (None, None)
    assert metric.lazy_widths() == {"m": 5, "n": 4}
    with pytest.raises(ValueError, match=r"target must have shape \(batch, 4\) as earlier batches"):
        metric.update(x[50:], y[50:, :3])
    metric.update(x[50:], y[50:])
    assert torch.equal(metric.compute()["te"], transfer_entropy(x, y))


def test_layer_metric_new_series_breaks_every_pair() -> None:
    g = torch.Generator().manual_seed(1)
    batches = [
        ({"h": torch.randn(30, 4, generator=g)}, torch.randn(30, 3, generator=g)) for _ in range(2)
    ]
    metric = LayerTransferEntropy(["h"])
    metric.update(*batches[0])
    metric.new_series()
    metric.update(*batches[1])
    (pair,) = metric.pairs
    assert int(pair.observations) == 2 * 29  # no transition between the two series
    metric.reset()
    for batch in batches:
        metric.update(*batch)
    assert int(pair.observations) == 59
