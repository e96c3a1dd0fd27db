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


def test_without_a_store_the_monitor_measures_and_records_nothing(tmp_path: Path) -> None:
    """store=None (DDP ranks other than 0): the values are computed, nothing is written."""
    model = _model()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    monitor = Monitor(model, None, {"n": Probe(FeatureNorm(), every(1))})
    recording = Monitor(
        model, RunStore(tmp_path / "run.sqlite"), {"n": Probe(FeatureNorm(), every(1))}
    )
    measured = monitor.measure(0, "train", batches_of(x, y, 3)())
    assert measured == recording.measure(0, "train", batches_of(x, y, 3)())
    monitor.log(0, "train", {"loss": 1.0})
    monitor.flush()
    assert monitor._pending == [] and monitor._pending_arrays == []
    with pytest.raises(ValueError, match="sinks were given with store=None"):
        Monitor(model, None, {"n": Probe(FeatureNorm(), every(1))}, sinks=[object()])  # type: ignore[list-item]


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


def test_monitor_records_layer_pair_transfer_entropy(tmp_path: Path) -> None:
    """One probe line gives TE per adjacent layer pair, equal to the functional estimate."""
    from infodyn.functional import binarize, transfer_entropy
    from infodyn.metrics import LayerTransferEntropy

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(300, 4), torch.randint(0, 3, (300,))
    store = RunStore(tmp_path / "run.sqlite")
    probe = Probe(LayerTransferEntropy(["1", "3"]), every(1))
    monitor = Monitor(model, store, {"te": probe})
    measured = monitor.measure(0, "train", batches_of(x, y, 64)())
    monitor.flush()

    with torch.no_grad():
        h1 = torch.relu(model[0](x))
        h2 = torch.tanh(model[2](h1))
        probs = model[4](h2).softmax(-1)
    # Binarised per batch (layer_batch scope), then one series over the whole pass.
    bits = [
        torch.cat([binarize(a[i : i + 64]) for i in range(0, 300, 64)]) for a in (h1, h2, probs)
    ]
    expected = transfer_entropy(bits[0], bits[1])
    (array,) = store.arrays(metric="te", layer="1->3")
    assert array.value == pytest.approx(expected.numpy(), abs=1e-12)
    assert measured["te_mean@1->3"] == pytest.approx(float(expected.mean()), abs=1e-12)
    plane = {(r.metric, r.layer): r.value for r in store.scalars()}
    assert plane[("te_in", "3")] == pytest.approx(float(expected.mean()), abs=1e-12)
    assert plane[("te_out", "3")] == pytest.approx(
        float(transfer_entropy(bits[1], bits[2]).mean()), abs=1e-12
    )


def test_unknown_te_layer_is_rejected_at_construction(tmp_path: Path) -> None:
    from infodyn.metrics import LayerTransferEntropy

    probe = Probe(LayerTransferEntropy(["nope"]), every(1))
    with pytest.raises(ValueError, match="layers: the model has no module named 'nope'"):
        Monitor(_model(), RunStore(tmp_path / "run.sqlite"), {"te": probe})


def test_monitor_records_neural_collapse_and_information_plane(tmp_path: Path) -> None:
    """One probe line each: NC measures from the head input, IB estimates from inputs too."""
    from infodyn.functional import mutual_information, nc3, rnc1
    from infodyn.metrics import InformationPlane, NeuralCollapse

    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(120, 4), torch.arange(120) % 3
    store = RunStore(tmp_path / "run.sqlite")
    probes = {
        "nc": Probe(NeuralCollapse(num_classes=3), at_steps(0)),
        "ib": Probe(InformationPlane(max_samples=120, nhsic_batch_size=40), at_steps(0)),
    }
    measured = Monitor(model, store, probes).measure(0, "test", batches_of(x, y, 50)())
    with torch.no_grad():
        features = torch.tanh(model[0](x))
    assert measured["rnc1"] == pytest.approx(float(rnc1(features, y)), rel=1e-9)
    head = model[2].weight.detach()
    assert measured["nc3"] == pytest.approx(float(nc3(features, y, head)), rel=1e-9)
    assert measured["mi_zy"] == pytest.approx(float(mutual_information(features, y)), rel=1e-9)
    assert "nhsic_zx" in measured
