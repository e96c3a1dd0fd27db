"""The stateful Richness metric: streaming equals one shot, the cap, both modes agree, errors."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from infodyn.functional.richness import D_LR_METRIC, SPANS, Span, d_lr, richness
from infodyn.metrics.richness import Richness

F64 = torch.float64


def _data(seed: int = 0, n: int = 300, p: int = 24, c: int = 4) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=g)
    means = 2.0 * torch.randn(c, p, generator=g)
    features = means[labels] + torch.randn(n, p, generator=g) * torch.linspace(1.5, 0.1, p)
    logits = features @ torch.randn(p, c, generator=g) + torch.randn(c, generator=g)
    return features, logits, labels


def _stream(metric: Richness, data: tuple[Tensor, ...], sizes: list[int]) -> dict[str, Tensor]:
    start = 0
    for size in sizes:
        metric.update(*(t[start : start + size] for t in data))
        start += size
    return metric.compute()


def _assert_same(got: dict[str, Tensor], expected: dict[str, Tensor], atol: float) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=atol, rtol=0, msg=key)


@pytest.mark.parametrize("mode", ["samples", "covariance"])
def test_streamed_equals_one_shot(mode: str) -> None:
    data = _data()
    streamed = _stream(Richness(mode=mode), data, [50, 1, 99, 150])  # type: ignore[arg-type]
    one = Richness(mode=mode)  # type: ignore[arg-type]
    one.update(*data)
    _assert_same(streamed, one.compute(), atol=1e-10)
    direct = richness(*data)
    assert direct.quality_cumulative is not None
    torch.testing.assert_close(
        streamed["quality_cumulative"], direct.quality_cumulative, atol=1e-10, rtol=0
    )
    assert float(streamed["d_lr"]) == pytest.approx(float(direct.d_lr), abs=1e-10)
    assert float(streamed["num_classes"]) == 4.0
    assert streamed["d_lr"].ndim == 0 and streamed["relative_norms"].shape == (24,)


@pytest.mark.parametrize("span", SPANS)
@pytest.mark.parametrize("with_labels", [True, False])
def test_covariance_mode_equals_samples_mode(with_labels: bool, span: Span) -> None:
    features, logits, labels = _data(1, n=200, p=40, c=5)
    data = (features, logits, labels) if with_labels else (features, logits)
    samples = _stream(Richness(mode="samples", span=span), data, [120, 80])
    covariance = _stream(Richness(mode="covariance", span=span), data, [7, 193])
    _assert_same(covariance, samples, atol=1e-10)
    assert ("quality_cumulative" in samples) is with_labels
    assert float(samples[D_LR_METRIC[span]]) == pytest.approx(
        float(d_lr(features, logits, span=span)), abs=1e-12
    )


@pytest.mark.parametrize("mode", ["samples", "covariance"])
def test_the_value_name_records_the_reading(mode: str) -> None:
    data = _data(6)
    default = _stream(Richness(mode=mode), data, [300])  # type: ignore[arg-type]
    other = _stream(
        Richness(mode=mode, span="outputs_and_constant"),  # type: ignore[arg-type]
        data,
        [100, 200],
    )
    assert "d_lr" in default and "d_lr_with_constant" not in default
    assert "d_lr_with_constant" in other and "d_lr" not in other
    assert float(default["d_lr"]) == pytest.approx(float(d_lr(*data[:2])), abs=1e-10)
    assert float(other["d_lr_with_constant"]) == pytest.approx(
        float(d_lr(*data[:2], span="outputs_and_constant")), abs=1e-10
    )
    assert abs(float(default["d_lr"]) - float(other["d_lr_with_constant"])) > 1e-4
    for key in ("utilization_cumulative", "relative_norms", "quality_cumulative"):
        torch.testing.assert_close(default[key], other[key], atol=1e-10, rtol=0)


def test_samples_mode_keeps_the_first_max_samples_rows() -> None:
    data = _data(2)
    metric = Richness(max_samples=120, k=10)
    values = _stream(metric, data, [100, 100, 100])
    assert sum(x.shape[0] for x in metric.kept_features) == 120
    expected = richness(*(t[:120] for t in data), k=10)
    assert float(values["d_lr"]) == pytest.approx(float(expected.d_lr), abs=1e-12)
    assert values["utilization_cumulative"].shape == (10,)


def test_merged_states_equal_one_instance_and_cap_again() -> None:
    data = _data(3)
    first, second = Richness(max_samples=200), Richness(max_samples=200)
    first.update(*(t[:150] for t in data))
    second.update(*(t[150:] for t in data))
    first.merge_state(second)  # torchmetrics puts the incoming rows first
    order = torch.cat([torch.arange(150, 300), torch.arange(150)])[:200]
    expected = richness(*(t[order] for t in data))
    assert float(first.compute()["d_lr"]) == pytest.approx(float(expected.d_lr), abs=1e-12)
    cov_a, cov_b = Richness(mode="covariance"), Richness(mode="covariance")
    cov_a.update(*(t[:150] for t in data))
    cov_b.update(*(t[150:] for t in data))
    cov_a.merge_state(cov_b)
    assert float(cov_a.compute()["d_lr"]) == pytest.approx(float(richness(*data).d_lr), abs=1e-10)


@pytest.mark.filterwarnings("ignore:The ``compute`` method:UserWarning")
def test_reset_clears_both_modes() -> None:
    data = _data(4)
    for mode in ("samples", "covariance"):
        metric = Richness(mode=mode)
        metric.update(*data)
        metric.reset()
        with pytest.raises(RuntimeError, match="before update"):
            metric.compute()
        metric.update(*(t[:100] for t in data))
        assert float(metric.compute()["d_lr"]) == pytest.approx(
            float(richness(*(t[:100] for t in data)).d_lr), abs=1e-10
        )


def test_metric_errors() -> None:
    features, logits, labels = _data(5)
    for mode in ("samples", "covariance"):
        metric = Richness(mode=mode)
        metric.update(features[:50], logits[:50], labels[:50])
        with pytest.raises(ValueError, match="labels were given to some updates"):
            metric.update(features[50:], logits[50:])
        with pytest.raises(ValueError, match="one Richness metric measures one layer"):
            metric.update(features[:, :5], logits, labels)
    with pytest.raises(ValueError, match="labels holds values in"):
        Richness().update(features, logits, labels + 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        Richness(mode="pooled")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="span must be one of 'outputs', 'outputs_and_constant'"):
        Richness(span="centred")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_samples must be"):
        Richness(max_samples=1)
    small = Richness(mode="covariance")
    small.update(features[:3], logits[:3])
    with pytest.raises(ValueError, match="at least C \\+ 1"):
        small.compute()
