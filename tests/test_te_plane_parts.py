"""The te-plane experiment's parts: its models, the per-epoch order and the epoch meter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infodyn.experiments._epochs import EpochMeter, EpochOrder
from infodyn.models.cnn import HIDDEN_LAYERS, ConvNet, TabularMLP, build_classifier


@pytest.mark.parametrize(
    ("kind", "shape"),
    [("mlp", (13,)), ("mlp", (1, 8, 8)), ("cnn2d", (1, 8, 8)), ("cnn1d", (1, 40))],
)
def test_every_model_has_three_hidden_layers_and_a_head(kind: str, shape: tuple[int, ...]) -> None:
    net = build_classifier(kind, shape, 10)  # type: ignore[arg-type]
    outputs = {}
    hooks = [
        getattr(net, name).register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out)
        )
        for name in HIDDEN_LAYERS
    ]
    logits = net(torch.randn(5, *shape))
    for hook in hooks:
        hook.remove()
    assert logits.shape == (5, 10) and isinstance(net.head, nn.Linear)
    assert list(outputs) == list(HIDDEN_LAYERS)
    assert all(bool((out >= 0).all()) for out in outputs.values())  # post-ReLU outputs
    if kind.startswith("cnn"):
        assert outputs["h1"].ndim == len(shape) + 1  # a conv map: channels become neurons


def test_model_errors_say_what_fits() -> None:
    with pytest.raises(ValueError, match=r"inputs shaped \(channels, height, width\), got \(13,\)"):
        ConvNet((13,), 3, (4, 8), 16, dims=2)
    with pytest.raises(ValueError, match="too small for two 2× poolings"):
        ConvNet((1, 2, 2), 3, (4, 8), 16, dims=2)
    with pytest.raises(ValueError, match="widths must give 3 hidden widths"):
        TabularMLP(4, 3, (8, 8))
    with pytest.raises(ValueError, match=r"kind must be one of 'mlp', 'cnn1d', 'cnn2d'; got 'rnn'"):
        build_classifier("rnn", (4,), 3)  # type: ignore[arg-type]


def test_epoch_order_is_a_fresh_permutation_per_epoch_like_a_dataloader() -> None:
    order = EpochOrder(10, 4, seed=3)
    assert order.steps_per_epoch == 3
    epochs = [torch.cat([order.batch(s) for s in range(1 + 3 * e, 4 + 3 * e)]) for e in range(3)]
    for seen in epochs:
        assert sorted(seen.tolist()) == list(range(10))
    sizes = EpochOrder(10, 4, seed=3)
    assert [len(sizes.batch(s)) for s in (1, 2, 3)] == [4, 4, 2]  # the last batch: the rest
    assert not torch.equal(epochs[0], epochs[1])
    # DataLoader(shuffle=True) draws the same way: one randperm per epoch from one generator
    g = torch.Generator().manual_seed(3)
    assert all(torch.equal(seen, torch.randperm(10, generator=g)) for seen in epochs)


def test_epoch_order_resumes_mid_epoch_from_its_state() -> None:
    reference = EpochOrder(10, 4, seed=1)
    want = [reference.batch(s).tolist() for s in range(1, 10)]
    first = EpochOrder(10, 4, seed=1)
    got = [first.batch(s).tolist() for s in range(1, 5)]  # into epoch 2
    resumed = EpochOrder(10, 4, seed=1)
    resumed.load_state_dict(first.state_dict())
    got += [resumed.batch(s).tolist() for s in range(5, 10)]
    assert got == want
    with pytest.raises(RuntimeError, match="steps must come in order"):
        EpochOrder(10, 4, seed=1).batch(9)


def test_epoch_meter_weighs_batches_by_size_and_resets() -> None:
    meter = EpochMeter()
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    meter.add(torch.tensor(0.5), logits, torch.tensor([0, 1, 1]))
    meter.add(torch.tensor(2.0), logits[:1], torch.tensor([1]))
    assert meter.pop() == pytest.approx({"loss": (0.5 * 3 + 2.0) / 4, "accuracy": 2 / 4})
    with pytest.raises(RuntimeError, match="before any batch"):
        meter.pop()
