import pytest
import torch
from torch import nn

from infodyn.capture import ActivationCapture, find_classifier_head


def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 8),
        nn.ReLU(),
        nn.Linear(8, 5),
    )


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_captures_outputs_inputs_and_channel_means() -> None:
    net = _net()
    x = torch.randn(4, 1, 6, 6)
    with ActivationCapture(net, layers=["0", "4"], inputs=["5"], reduction="channel_mean") as cap:
        logits = net(x)
        conv = cap.output("0")
        assert conv.shape == (4, 3)
        torch.testing.assert_close(conv, net[0](x).mean(dim=(2, 3)))
        torch.testing.assert_close(cap.input("5"), cap.output("4"))
        assert [name for name, _ in cap.outputs()] == ["0", "4"]
    assert logits.shape == (4, 5)
    assert _hook_count(net) == 0


def test_hooks_removed_after_an_exception() -> None:
    net = _net()
    with pytest.raises(RuntimeError, match="boom"), ActivationCapture(net, layers=["3"]):
        assert _hook_count(net) == 1
        raise RuntimeError("boom")
    assert _hook_count(net) == 0


def test_unknown_layer_names_the_argument_and_suggests() -> None:
    net = nn.Sequential()
    net.add_module("hidden", nn.Linear(2, 2))
    with pytest.raises(
        ValueError, match=r"layers: the model has no module named 'hiden'.*'hidden'"
    ):
        ActivationCapture(net, layers=["hiden"])


def test_module_lookup_walks_to_the_named_module() -> None:
    """The dotted-path walk finds what named_modules() lists, and only registered modules."""
    from infodyn.capture import _module_by_name

    outer = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), _net())
    outer.add_module("skip", None)  # a registered None is no module
    for name, module in outer.named_modules():
        if name:
            assert _module_by_name(outer, name, "layers") is module, name
    for missing in ("", "skip", "0.5", "1.0.weight", "0..1", "2"):
        with pytest.raises(ValueError, match="layers: the model has no module named"):
            _module_by_name(outer, missing, "layers")


def test_detach_false_keeps_the_graph() -> None:
    net = _net()
    with ActivationCapture(net, layers=["3"], detach=False) as cap:
        net(torch.randn(2, 1, 6, 6))
        cap.output("3").sum().backward()
    assert net[3].weight.grad is not None


def test_reading_before_forward_is_a_clear_error() -> None:
    net = _net()
    with (
        ActivationCapture(net, layers=["3"]) as cap,
        pytest.raises(RuntimeError, match="forward pass"),
    ):
        cap.output("3")


def test_find_classifier_head_is_last_linear() -> None:
    name, module = find_classifier_head(_net())
    assert name == "5" and module.out_features == 5
    with pytest.raises(ValueError, match=r"no nn\.Linear"):
        find_classifier_head(nn.Sequential(nn.ReLU()))
