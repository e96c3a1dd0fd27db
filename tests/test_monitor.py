from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torchmetrics import Metric

from infodyn.monitor import Monitor, Probe, batches_of
from infodyn.schedules import at_steps, every
from infodyn.store import RunStore


class FeatureNorm(Metric):
    """Mean feature norm and sample count: a family-free metric for testing the monitor."""

    inputs = ("features", "labels")
    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, features: Tensor, labels: Tensor) -> None:
        self.total += features.double().norm(dim=1).sum()
        self.count += labels.numel()

    def compute(self) -> dict[str, Tensor]:
        return {"feature_norm": self.total / self.count, "class_counts": torch.arange(3.0)}


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def test_measure_records_values_from_one_pass(tmp_path: Path) -> None:
    model = _model()
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    store = RunStore(tmp_path / "run.sqlite")
    monitor = Monitor(model, store, {"norm": Probe(FeatureNorm(), at_steps(0, 5))})
    model.train()
    measured = monitor.measure(0, "train", batches_of(x, y, 4)())
    assert model.training, "the monitor must restore the model's mode"
    with torch.no_grad():
        expected = torch.tanh(model[0](x)).double().norm(dim=1).mean()
    assert measured["feature_norm"] == pytest.approx(float(expected), rel=1e-6)
    assert monitor.measure(1, "train", batches_of(x, y, 4)()) == {}  # not due
    monitor.log(0, "train", {"loss": 1.5})
    monitor.flush()
    records = {(r.metric, r.layer): r.value for r in store.scalars()}
    assert records[("feature_norm", "2:input")] == pytest.approx(float(expected), rel=1e-6)
    assert records[("loss", "")] == 1.5
    (array,) = store.arrays(metric="class_counts")
    assert array.value.tolist() == [0.0, 1.0, 2.0]
    assert sum(len(m._forward_pre_hooks) for m in model.modules()) == 0
    assert monitor.elapsed_s > 0


def test_metric_state_is_reset_between_steps(tmp_path: Path) -> None:
    model = _model()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    monitor = Monitor(
        model, RunStore(tmp_path / "run.sqlite"), {"n": Probe(FeatureNorm(), every(1))}
    )
    first = monitor.measure(0, "train", batches_of(x, y, 3)())
    second = monitor.measure(1, "train", batches_of(x, y, 3)())
    assert first == second


def test_metric_without_declared_inputs_is_rejected() -> None:
    class Bare(Metric):
        def update(self) -> None: ...
        def compute(self) -> Tensor:
            return torch.tensor(0.0)

    with pytest.raises(ValueError, match="must declare a class attribute `inputs`"):
        Probe(Bare(), every(1))


def test_unknown_feature_layer_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="features: the model has no module named 'nope'"):
        Monitor(_model(), RunStore(tmp_path / "run.sqlite"), {}, features="nope")
