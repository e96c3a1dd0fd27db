"""infodyn.evaluate: one pass feeds every metric, in eval mode, with hooks always removed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infodyn import evaluate
from infodyn.functional import head_rows, matrix_information, rnc1
from infodyn.metrics import MatrixInformation, NeuralCollapse


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.5), nn.Linear(12, 3)
    )


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_values_equal_the_functional_estimates_in_eval_mode() -> None:
    model = _net()
    model.train()
    # Move the BatchNorm running statistics off their initial values, so eval mode matters.
    with torch.no_grad():
        model(torch.randn(64, 5) * 3 + 1)
    x, y = torch.randn(90, 5), torch.arange(90) % 3
    values = evaluate(
        model,
        [(x[:40], y[:40]), (x[40:], y[40:])],
        {"mi": MatrixInformation(mode="pooled"), "nc": NeuralCollapse(num_classes=3)},
    )
    assert model.training, "evaluate must restore the training mode"
    model.eval()
    with torch.no_grad():
        features = model[:4](x)  # BatchNorm on running statistics, dropout off
    head = model[4].weight.detach()
    expected = matrix_information(features, head_rows(head, y))
    assert float(values["mi"]["mir"]) == pytest.approx(float(expected.mir), rel=1e-9)
    assert float(values["nc"]["rnc1"]) == pytest.approx(float(rnc1(features, y)), rel=1e-9)
    assert _hooks(model) == 0


def test_metrics_are_reset_so_a_second_call_gives_the_same_values() -> None:
    model, metric = _net(), NeuralCollapse(num_classes=3)
    x, y = torch.randn(30, 5), torch.arange(30) % 3
    first = evaluate(model, [(x, y)], {"nc": metric})["nc"]["rnc1"]
    second = evaluate(model, [(x, y)], {"nc": metric})["nc"]["rnc1"]
    assert float(first) == float(second)


def test_named_features_and_head() -> None:
    model = _net()
    x, y = torch.randn(40, 5), torch.arange(40) % 3
    values = evaluate(model, [(x, y)], {"nc": NeuralCollapse(num_classes=3)}, features="2")
    model.eval()
    with torch.no_grad():
        features = model[:2](x)  # the input of module "2" (the ReLU)
    assert float(values["nc"]["rnc1"]) == pytest.approx(float(rnc1(features, y)), rel=1e-9)
    with pytest.raises(ValueError, match="head: module '2' has no 2-D `weight`"):
        evaluate(model, [(x, y)], {"nc": NeuralCollapse(num_classes=3)}, head="2")


def test_empty_batches_are_an_error_and_hooks_are_removed() -> None:
    model = _net()
    with pytest.raises(ValueError, match="batches is empty"):
        evaluate(model, [], {"nc": NeuralCollapse(num_classes=3)})
    assert _hooks(model) == 0


def test_an_error_inside_the_pass_removes_hooks_and_restores_the_mode() -> None:
    model = _net()
    model.train()
    x = torch.randn(10, 5)
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, [(x, torch.full((10,), 7))], {"nc": NeuralCollapse(num_classes=3)})
    assert _hooks(model) == 0 and model.training
