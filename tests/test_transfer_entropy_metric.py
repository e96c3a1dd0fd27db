"""Streaming TE equals the one-shot estimate exactly, over any batch split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pyinform.transferentropy import transfer_entropy as pyinform_te

from infodyn.functional import transfer_entropy, transfer_entropy_from_counts, transition_counts
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
    """The break falls after every batch given before it, waiting ones included."""
    g = torch.Generator().manual_seed(1)
    batches = [
        ({"h": torch.randn(30, 4, generator=g)}, torch.randn(30, 3, generator=g)) for _ in range(4)
    ]
    reference = LayerTransferEntropy(["h"], buffer_samples=1)  # every batch fed at once
    for batch in batches[:3]:
        reference.update(*batch)
    only_pair = reference.pairs[0]
    assert isinstance(only_pair, TransferEntropy)
    only_pair.new_series()
    reference.update(*batches[3])
    expected = reference.compute()["h->softmax"]["te"]
    # 50: batches 0–1 are counted together, batch 2 still waits when the series ends.
    for buffer_samples in (1, 50, 2048):
        metric = LayerTransferEntropy(["h"], buffer_samples=buffer_samples)
        for batch in batches[:3]:
            metric.update(*batch)
        metric.new_series()
        metric.update(*batches[3])
        assert torch.equal(metric.compute()["h->softmax"]["te"], expected), buffer_samples
        (pair,) = metric.pairs
        assert int(pair.observations) == 89 + 29  # no transition between the two series


# --- buffered counting: any buffer size gives the same integer counts --------------------------


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=199), max_size=12, unique=True),
    delay=st.sampled_from([0, 1, 2]),
    buffer_samples=st.sampled_from([2, 7, 64, 150, 4096]),
    seed=st.integers(0, 10_000),
)
def test_buffered_streaming_equals_one_shot(
    cuts: list[int], delay: int, buffer_samples: int, seed: int
) -> None:
    x, y = _series(seed)
    metric = TransferEntropy(delay=delay, buffer_samples=buffer_samples)
    for lo, hi in itertools.pairwise([0, *sorted(cuts), 200]):
        metric.update(x[lo:hi], y[lo:hi])
    assert torch.equal(metric.compute()["te"], transfer_entropy(x, y, delay=delay))
    expected = transition_counts(x, y, delay=delay)
    for name, value in zip(expected._fields, expected, strict=True):
        assert torch.equal(getattr(metric, name), value), name


def test_buffer_is_counted_when_full_and_holds_no_view_of_the_input() -> None:
    x, y = _series(20)
    metric = TransferEntropy(buffer_samples=100)
    x_first, y_first = x[:60].clone(), y[:60].clone()
    metric.update(x_first, y_first)  # the first batch: its observations are its own rows
    assert int(metric.observations) == 0  # 59 observations wait
    x_first.fill_(1)  # the caller reuses its buffers: the kept copies must not change
    y_first.fill_(0)
    metric.update(x[60:90], y[60:90])
    assert int(metric.observations) == 0  # 89 wait
    metric.update(x[90:120], y[90:120])
    assert int(metric.observations) == 119  # 119 >= 100: all counted at once
    metric.update(x[120:], y[120:])
    assert int(metric.observations) == 119
    assert torch.equal(metric.compute()["te"], transfer_entropy(x, y))
    assert int(metric.observations) == 199


def test_buffered_observations_reach_checkpoints_merges_and_reset() -> None:
    from infodyn.metrics import load_metric_state_dict, metric_state_dict

    (xa, ya), (xb, yb) = _series(21), _series(22)
    a, b = TransferEntropy(buffer_samples=1000), TransferEntropy(buffer_samples=1000)
    a.update(xa[:120], ya[:120])
    resumed = TransferEntropy(buffer_samples=1000)
    load_metric_state_dict(resumed, metric_state_dict(a))  # the waiting rows are counted
    assert int(resumed.observations) == 119
    resumed.update(xa[120:], ya[120:])
    b.update(xb, yb)
    resumed.merge_state(b)  # b's waiting rows count too
    pooled = transition_counts(xa, ya) + transition_counts(xb, yb)
    assert torch.equal(resumed.compute()["te"], transfer_entropy_from_counts(pooled))
    resumed.update(xa[:50], ya[:50])
    resumed.reset()  # drops the waiting rows with the counts
    resumed.update(xb[:30], yb[:30])
    assert torch.equal(resumed.compute()["te"], transfer_entropy(xb[:30], yb[:30]))


def test_waiting_observations_are_counted_before_a_sync_caches_the_local_state() -> None:
    """sync() caches the local states and unsync() restores them: counting the waiting rows
    only in _sync_dist would lose them from the local state after the first compute()."""
    x, y = _series(23)
    metric = TransferEntropy(buffer_samples=1000)
    metric.update(x[:100], y[:100])

    def gather(tensor: torch.Tensor, group: object = None) -> list[torch.Tensor]:
        return [tensor, tensor]  # two ranks holding the same states

    with metric.sync_context(dist_sync_fn=gather, distributed_available=lambda: True):
        assert int(metric.observations) == 2 * 99  # reduced: both "ranks" counted
    assert int(metric.observations) == 99  # the local state kept its counts
    metric.update(x[100:], y[100:])
    assert torch.equal(metric.compute()["te"], transfer_entropy(x, y))


def test_a_dropped_tail_splits_the_stream_whatever_the_buffer() -> None:
    """Observations are buffered with their own past: forgetting the stream's tail (a new
    trial, e.g. a new epoch's first batch) pools two series as trials for any buffer size."""
    x, y = _series(24)
    expected = transition_counts(x[:80], y[:80]) + transition_counts(x[80:], y[80:])
    for buffer_samples in (1, 50, 1000):
        metric = TransferEntropy(buffer_samples=buffer_samples)
        metric.update(x[:40], y[:40])
        metric.update(x[40:80], y[40:80])
        metric._tail_source = metric._tail_target = None
        metric.update(x[80:], y[80:])
        assert torch.equal(metric.compute()["te"], transfer_entropy_from_counts(expected))


def _stack_batches(
    seed: int, sizes: list[int]
) -> list[tuple[dict[str, torch.Tensor], torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (
            {"a": torch.randn(n, 3, 2, 2, generator=g), "b": torch.randn(n, 4, generator=g).relu()},
            torch.randn(n, 5, generator=g),
        )
        for n in sizes
    ]


def _assert_same_values(
    got: dict[str, dict[str, torch.Tensor]], expected: dict[str, dict[str, torch.Tensor]]
) -> None:
    assert got.keys() == expected.keys()
    for outer, inner in expected.items():
        for key, value in inner.items():
            assert torch.equal(got[outer][key], value), (outer, key)


@pytest.mark.parametrize("scope", ["layer", "neuron"])
@pytest.mark.parametrize("delay", [0, 1, 2])
def test_waiting_batches_give_the_values_of_batch_by_batch_feeding(scope: str, delay: int) -> None:
    """Batches of the stack wait and are binarised (each at its own threshold) and counted
    together; the integer counts, so every value, equal batch-by-batch feeding."""
    batches = _stack_batches(26, [32, 32, 32, 7, 32, 32, 1, 32])
    values = {}
    for buffer_samples in (1, 40, 2048):
        metric = LayerTransferEntropy(
            ["a", "b"],
            q=0.8,
            scope=scope,
            delay=delay,
            buffer_samples=buffer_samples,  # type: ignore[arg-type]
        )
        for acts, logits in batches:
            metric.update(acts, logits)
        values[buffer_samples] = metric.compute()
    assert int(metric._pairs()[0].observations) == 200 - max(delay, 1)
    for buffer_samples in (40, 2048):
        _assert_same_values(values[buffer_samples], values[1])


def test_a_tail_dropped_while_batches_wait_takes_effect_after_them() -> None:
    """A new trial (each pair's stream tail dropped) between waiting batches splits the
    stream where it was dropped, as when every batch is fed at once."""
    batches = _stack_batches(27, [16] * 6)
    values = {}
    for buffer_samples in (1, 2048):
        metric = LayerTransferEntropy(["a", "b"], buffer_samples=buffer_samples)
        for i, (acts, logits) in enumerate(batches):
            for pair in metric._pairs():
                if i in (2, 3):  # twice: after waiting batches, and right after the first drop
                    pair._tail_source = pair._tail_target = None
                if i == 5 and pair._tail_source is not None and pair._tail_target is not None:
                    # another past, e.g. a loaded one: continued from, not from the old one
                    pair._tail_source = torch.ones_like(pair._tail_source)
                    pair._tail_target = torch.zeros_like(pair._tail_target)
            metric.update(acts, logits)
        values[buffer_samples] = metric.compute()
        assert int(metric._pairs()[0].observations) == 96 - 3  # three trials
    _assert_same_values(values[2048], values[1])


def test_waiting_batches_keep_the_per_batch_errors() -> None:
    batches = _stack_batches(28, [16, 16, 16])
    metric = LayerTransferEntropy(["a", "b"])
    for acts, logits in batches[:2]:
        metric.update(acts, logits)  # the second one waits
    bad = {**batches[2][0], "b": batches[2][0]["b"].clone()}
    bad["b"][3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"x contains 1 non-finite value\(s\).*index \(3, 1\)"):
        metric.update(bad, batches[2][1])
    with pytest.raises(ValueError, match=r"target must have shape \(batch, 4\) as earlier"):
        metric.update({**batches[2][0], "b": torch.randn(16, 3)}, batches[2][1])
    whole = LayerTransferEntropy(["a", "b"], buffer_samples=1)
    for acts, logits in batches[:2]:
        whole.update(acts, logits)
    _assert_same_values(metric.compute(), whole.compute())  # the rejected batches left no trace
    with pytest.raises(ValueError, match="buffer_samples must be an integer >= 1, got 0"):
        LayerTransferEntropy(["a"], buffer_samples=0)
    with pytest.raises(ValueError, match="buffer_samples must be an integer >= 1, got 0"):
        TransferEntropy(buffer_samples=0)
