"""The stateful MatrixInformation metric: streaming equals one-shot, merging equals one instance."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from infodyn.functional import head_rows, matrix_information
from infodyn.metrics import MatrixInformation
from streaming import merged_and_single

KEYS = ("mir", "hdr", "entropy_features", "entropy_head", "mutual_information")


def _batches(count: int, n: int = 24, d: int = 6, num_classes: int = 4) -> list[tuple]:
    g = torch.Generator().manual_seed(count * 100 + n)
    weight = torch.randn(num_classes, d, generator=g)
    out = []
    for _ in range(count):
        labels = torch.randint(0, num_classes, (n,), generator=g)
        features = weight[labels] + 0.8 * torch.randn(n, d, generator=g)
        out.append((features, weight, labels))
    return out


def _one_shot(features: Tensor, weight: Tensor, labels: Tensor) -> dict[str, Tensor]:
    return matrix_information(features, head_rows(weight, labels))._asdict()


def _assert_close(got: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    assert set(got) == set(KEYS)
    for key in KEYS:
        assert got[key].item() == pytest.approx(float(expected[key]), abs=1e-12), key


def test_batch_mean_is_the_mean_of_per_batch_values() -> None:
    batches = _batches(4)
    metric = MatrixInformation()
    for batch in batches:
        metric.update(*batch)
    per_batch = [_one_shot(*batch) for batch in batches]
    expected = {k: torch.stack([v[k] for v in per_batch]).mean() for k in KEYS}
    _assert_close(metric.compute(), expected)
    # It really is a per-batch mean: pooling the same rows gives a different value.
    pooled = _one_shot(*(torch.cat(parts) for parts in zip(*batches, strict=True)))
    assert abs(float(pooled["entropy_features"]) - float(expected["entropy_features"])) > 1e-3


def test_pooled_is_one_shot_on_the_concatenation() -> None:
    batches = _batches(3)
    metric = MatrixInformation(mode="pooled")
    for batch in batches:
        metric.update(*batch)
    features, _, labels = (torch.cat(parts) for parts in zip(*batches, strict=True))
    _assert_close(metric.compute(), _one_shot(features, batches[0][1], labels))


def test_pooled_keeps_the_first_max_samples_rows() -> None:
    batches = _batches(3)  # 72 rows
    metric = MatrixInformation(mode="pooled", max_samples=30)
    for batch in batches:
        metric.update(*batch)
    features, _, labels = (torch.cat(parts)[:30] for parts in zip(*batches, strict=True))
    _assert_close(metric.compute(), _one_shot(features, batches[0][1], labels))


@pytest.mark.parametrize("mode", ["batch_mean", "pooled"])
def test_merged_instances_equal_one_instance(mode: str) -> None:
    """Two instances merged (as DDP would reduce their states) equal one that saw every batch."""
    first, single = merged_and_single(lambda: MatrixInformation(mode=mode), _batches(4))
    _assert_close(first.compute(), single.compute())


def test_summed_states_equal_one_instance() -> None:
    """The DDP reduction written out: every batch_mean state is a sum."""
    batches = _batches(4)
    parts = [MatrixInformation(), MatrixInformation()]
    single = MatrixInformation()
    for i, batch in enumerate(batches):
        parts[i % 2].update(*batch)
        single.update(*batch)
    reduced = MatrixInformation()
    for name in reduced._defaults:
        setattr(reduced, name, getattr(parts[0], name) + getattr(parts[1], name))
    reduced._update_count = 2  # as if it had been updated itself
    _assert_close(reduced.compute(), single.compute())


def test_update_keeps_no_graph_and_reset_clears() -> None:
    features, weight, labels = _batches(1)[0]
    metric = MatrixInformation()
    metric.update(features.requires_grad_(True), weight.requires_grad_(True), labels)
    values = metric.compute()
    assert not any(v.requires_grad for v in values.values())
    metric.reset()
    assert int(metric.num_batches) == 0


@pytest.mark.parametrize("mode", ["batch_mean", "pooled"])
def test_compute_before_update_is_an_error(mode: str) -> None:
    metric = MatrixInformation(mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchmetrics' own notice
        with pytest.raises(RuntimeError, match=r"compute\(\) was called before update\(\)"):
            metric.compute()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        MatrixInformation(mode="epoch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_samples must be an integer >= 2"):
        MatrixInformation(mode="pooled", max_samples=1)
    features, weight, labels = _batches(1)[0]
    metric = MatrixInformation()
    with pytest.raises(ValueError, match=r"labels must have shape \(24,\)"):
        metric.update(features, weight, labels[:-1])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\]"):
        metric.update(features, weight, labels + 4)
    with pytest.raises(ValueError, match="features contains 1 non-finite"):
        metric.update(
            features.index_put((torch.tensor(0), torch.tensor(0)), torch.tensor(1e400)),
            weight,
            labels,
        )


def test_declares_its_inputs_for_the_monitor() -> None:
    assert MatrixInformation.inputs == ("features", "head_weight", "labels")
    assert MatrixInformation.full_state_update is False
    assert MatrixInformation.is_differentiable is False


# --- the metric's algebra: the head's spectrum from C×C ----------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 40),
    extra=st.integers(-3, 12),
    classes=st.integers(2, 12),
    absent_zero_row=st.booleans(),
    head_wider=st.booleans(),
)
def test_class_head_algebra_equals_matrix_information(
    seed: int, n: int, extra: int, classes: int, absent_zero_row: bool, head_wider: bool
) -> None:
    """D^½ĜD^½/n has the non-zero spectrum of K_W/n: every value agrees to round-off, on the
    C×C path and on the fallbacks (features narrower than the batch, more classes than
    samples, features from another layer than the head's input); errors are
    matrix_information's."""
    from infodyn.functional._class_head import class_head_information

    g = torch.Generator().manual_seed(seed)
    d = max(1, n + extra)
    features = torch.randn(n, d, generator=g) * torch.rand(n, 1, generator=g).add(0.1)
    weight = torch.randn(classes, d + head_wider, generator=g)  # wider: another layer's head
    labels = torch.randint(0, classes, (n,), generator=g)
    absent = sorted(set(range(classes)) - set(labels.tolist()))
    if absent_zero_row and absent:
        weight[absent[0]] = 0.0  # an absent class's row is never used
    try:
        expected = list(matrix_information(features, head_rows(weight, labels)))
    except ValueError as error:  # e.g. a single label: rank-one head Gram
        with pytest.raises(ValueError, match=re.escape(str(error))):
            class_head_information(features, weight, labels, dtype=torch.float64)
        return
    got = class_head_information(features, weight, labels, dtype=torch.float64)
    for value, reference in zip(got, expected, strict=True):
        assert value == pytest.approx(float(reference), rel=1e-12, abs=1e-13)


def test_class_head_algebra_raises_the_general_messages() -> None:
    from infodyn.functional._class_head import class_head_information

    weight = torch.randn(3, 8, generator=torch.Generator().manual_seed(3))
    weight[1] = 0.0
    labels = torch.tensor([0, 2, 1, 0])
    with pytest.raises(ValueError, match=r"head row 2 is all zeros"):
        class_head_information(torch.randn(4, 8), weight, labels, dtype=torch.float64)
    one_label = torch.zeros(4, dtype=torch.long)  # rank-one head Gram: the message's numbers too
    features = torch.randn(4, 8)
    with pytest.raises(ValueError) as expected:
        matrix_information(features, head_rows(weight, one_label))
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        class_head_information(features, weight, one_label, dtype=torch.float64)
