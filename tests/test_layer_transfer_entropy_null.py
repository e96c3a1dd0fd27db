"""LayerTransferEntropy's surrogate test equals ``transfer_entropy_null`` on the same series.

The metric keeps the binarised bits of the series it streamed (bounded by
``SurrogateTest.max_samples``); its significance outputs must be exactly what a user gets by
binarising each batch the same way, concatenating, and calling ``transfer_entropy_null`` with
the same seed — also after a checkpoint round trip in the middle of the series.
"""

from __future__ import annotations

import io

import pytest
import torch
from torch import Tensor

from infodyn.functional import binarize, transfer_entropy_null, transfer_entropy_windows
from infodyn.metrics import (
    LayerTransferEntropy,
    SurrogateTest,
    load_metric_state_dict,
    metric_state_dict,
)

LAYERS = ["a", "b"]


def _batches(n_batches: int = 5, size: int = 40, seed: int = 0) -> list[tuple[dict, Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        a = torch.randn(size, 6, generator=g)
        b = torch.relu(a[:, :4] + 0.5 * torch.randn(size, 4, generator=g))  # b depends on a
        logits = torch.randn(size, 3, generator=g) + b[:, :3]
        out.append(({"a": a, "b": b}, logits))
    return out


def _binary_series(batches: list[tuple[dict, Tensor]], q: float = 0.9) -> dict[str, Tensor]:
    """Each batch binarised per layer at its own q-percentile, batches joined in order."""
    return {
        "a": torch.cat([binarize(acts["a"], q) for acts, _ in batches]),
        "b": torch.cat([binarize(acts["b"], q) for acts, _ in batches]),
        "softmax": torch.cat([binarize(logits.softmax(-1), q) for _, logits in batches]),
    }


@pytest.mark.parametrize("delay", [0, 1])
def test_the_metric_null_equals_transfer_entropy_null_on_the_same_series(delay: int) -> None:
    batches = _batches()
    test = SurrogateTest(n_surrogates=30, seed=17, segments=3)
    metric = LayerTransferEntropy(LAYERS, q=0.9, delay=delay, null=test)
    for acts, logits in batches:
        metric.update(acts, logits)
    series = _binary_series(batches)
    kept = metric.kept_series()
    assert set(kept) == {"a", "b", "softmax"}
    for name in kept:
        assert torch.equal(kept[name], series[name])
    values = metric.compute()
    for source, target in [("a", "b"), ("b", "softmax")]:
        got = values[f"{source}->{target}"]
        sig = transfer_entropy_null(series[source], series[target], 30, 17, delay=delay)
        assert torch.equal(got["te"], sig.te)  # streamed counts = one-shot counts
        assert torch.equal(got["te_p_value"], sig.p_value)
        assert torch.equal(got["te_null"], sig.null_pair_mean)
        assert float(got["te_null_mean"]) == float(sig.null_pair_mean.mean())
        assert float(got["te_excess"]) == float((sig.te - sig.null_mean).mean())
        assert float(got["te_sig_fraction"]) == float((sig.p_value < 0.05).double().mean())
        assert 0.0 <= float(got["te_sig_fraction"]) <= 1.0
        for kind, growing in (("segment", False), ("prefix", True)):
            w = transfer_entropy_windows(
                series[source], series[target], 3, growing=growing, n_surrogates=30, seed=17,
                delay=delay,
            )  # fmt: skip
            assert torch.equal(got[f"te_{kind}_mean"], w.te_mean)
            assert torch.equal(got[f"te_{kind}_null_mean"], w.null_mean)
            assert torch.equal(got[f"te_{kind}_null_std"], w.null_std)


def test_a_checkpoint_mid_series_resumes_the_kept_bits_exactly() -> None:
    batches = _batches()
    test = SurrogateTest(n_surrogates=25, seed=3)
    whole = LayerTransferEntropy(LAYERS, q=0.9, null=test)
    for acts, logits in batches:
        whole.update(acts, logits)
    first = LayerTransferEntropy(LAYERS, q=0.9, null=test)
    for acts, logits in batches[:2]:
        first.update(acts, logits)
    buffer = io.BytesIO()
    torch.save(metric_state_dict(first), buffer)
    buffer.seek(0)
    resumed = LayerTransferEntropy(LAYERS, q=0.9, null=test)
    load_metric_state_dict(resumed, torch.load(buffer, weights_only=True))
    for acts, logits in batches[2:]:
        resumed.update(acts, logits)
    a, b = whole.compute(), resumed.compute()
    assert a.keys() == b.keys()
    for outer in a:
        for key in a[outer]:
            assert torch.equal(a[outer][key], b[outer][key]), (outer, key)


def test_memory_bound_keeps_the_first_samples_and_says_so() -> None:
    batches = _batches(n_batches=3, size=40)
    metric = LayerTransferEntropy(
        LAYERS, q=0.9, null=SurrogateTest(n_surrogates=20, max_samples=50)
    )
    with pytest.warns(UserWarning, match=r"at most 50 samples.*first 50 samples"):
        for acts, logits in batches:
            metric.update(acts, logits)
    kept = metric.kept_series()
    assert kept["a"].shape == (50, 6) and kept["softmax"].shape == (50, 3)
    assert kept["a"].dtype == torch.uint8
    series = _binary_series(batches)
    sig = transfer_entropy_null(series["a"][:50], series["b"][:50], 20, 0)
    values = metric.compute()["a->b"]
    assert torch.equal(values["te_p_value"], sig.p_value)  # the kept prefix is tested
    assert values["te"].shape == (6, 4)  # while TE itself counts all 120 samples
    metric.reset()
    assert metric.kept_series() == {}


def test_outputs_and_suffix_select_and_name_the_records() -> None:
    acts, logits = _batches(n_batches=1)[0]
    metric = LayerTransferEntropy(
        LAYERS,
        q=0.9,
        null=SurrogateTest(n_surrogates=20),
        outputs=["te_mean", "te_in", "te_excess"],
        suffix="_lag1",
    )
    metric.update(acts, logits)
    values = metric.compute()
    assert {outer: sorted(inner) for outer, inner in values.items()} == {
        "a->b": ["te_excess_lag1", "te_mean_lag1"],
        "b->softmax": ["te_excess_lag1", "te_mean_lag1"],
        "b": ["te_in_lag1"],
    }
    assert values["b"]["te_in_lag1"] == values["a->b"]["te_mean_lag1"]
    plain = LayerTransferEntropy(LAYERS, q=0.9, outputs=["te_mean"])
    plain.update(acts, logits)
    assert plain.kept_series() == {}  # no test asked for: no bits kept


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"outputs \['te_null'\] are not available \(significance"):
        LayerTransferEntropy(LAYERS, outputs=["te_null"])
    with pytest.raises(ValueError, match=r"outputs \['te_segment_mean'\] are not available"):
        LayerTransferEntropy(LAYERS, null=SurrogateTest(), outputs=["te_segment_mean"])
    with pytest.raises(TypeError, match="collection of names, got the string"):
        LayerTransferEntropy(LAYERS, outputs="te_mean")
    with pytest.raises(TypeError, match="null must be a SurrogateTest"):
        LayerTransferEntropy(LAYERS, null=99)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        SurrogateTest(alpha=1.5)
    with pytest.raises(ValueError, match="n_surrogates must be an integer >= 1"):
        SurrogateTest(n_surrogates=0)
    with pytest.raises(ValueError, match="method must be one of 'shuffle', 'circular'"):
        SurrogateTest(method="rows")  # type: ignore[arg-type]
