"""Live capture: probes fed from the training forward passes, no second pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import Metric

from infodyn.functional import head_rows, matrix_information
from infodyn.metrics import MatrixInformation
from infodyn.monitor import Monitor, Probe
from infodyn.schedules import at_steps, every
from infodyn.store import RunStore


class Samples(Metric):
    """Counts samples and sums the head weight it is given: checks what live capture feeds."""

    inputs = ("features", "head_weight", "labels")
    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("weight_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, features: Tensor, head_weight: Tensor, labels: Tensor) -> None:
        self.n += labels.numel()
        self.weight_sum += head_weight.double().sum()

    def compute(self) -> dict[str, Tensor]:
        return {"samples": self.n.double(), "head_weight_sum": self.weight_sum}


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 10), nn.Tanh(), nn.Linear(10, 3))


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _train(monitor: Monitor, model: nn.Module, steps: range, batch: int = 8) -> list[Tensor]:
    """SGD on seeded batches inside monitor.live; returns the head weights before each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(1)
    before = []
    for step in steps:
        x, y = torch.randn(batch, 4, generator=g), torch.randint(0, 3, (batch,), generator=g)
        before.append(model[2].weight.detach().clone())
        with monitor.live(step) as live:
            loss = F.cross_entropy(model(x), y)
            live.batch(x, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        monitor.flush()
    return before


def test_window_1_equals_the_functional_value_on_the_step_batch(tmp_path: Path) -> None:
    model = _model()
    store = RunStore(tmp_path / "run.sqlite")
    probe = Probe(MatrixInformation(mode="pooled"), at_steps(3), mode="live", window=1)
    monitor = Monitor(model, store, {"mi": probe})
    # Replay: the features and head of step 3's forward pass, before its optimizer step.
    reference = _model()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(1)
    for step in range(1, 4):
        x, y = torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)
        if step == 3:
            with torch.no_grad():
                features = reference[:2](x)
            expected = matrix_information(features, head_rows(reference[2].weight.detach(), y))
        optimizer.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        optimizer.step()
    _train(monitor, model, range(1, 5))
    (record,) = store.scalars(metric="mir")
    assert (record.step, record.split, record.mode) == (3, "train", "live")
    assert record.value == pytest.approx(float(expected.mir), rel=1e-9)


def test_default_window_accumulates_every_step_since_the_previous_record(tmp_path: Path) -> None:
    model = _model()
    store = RunStore(tmp_path / "run.sqlite")
    monitor = Monitor(model, store, {"n": Probe(Samples(), every(4), mode="live")})
    before = _train(monitor, model, range(0, 11))
    records = {(r.step, r.metric): r.value for r in store.scalars()}
    # step 0 trains here and is scheduled: 1 batch; then steps 1..4 and 5..8; 9..10 unrecorded
    assert [records[(s, "samples")] for s in (0, 4, 8)] == [8, 32, 32]
    assert (10, "samples") not in records
    # The head weight fed is the one of each forward pass, not the updated one.
    expected = sum(float(w.double().sum()) for w in before[5:9])
    assert records[(8, "head_weight_sum")] == pytest.approx(expected, rel=1e-12)
    assert {r.mode for r in store.scalars()} == {"live"}
    assert _hooks(model) == 0


def test_window_k_takes_only_the_k_steps_before_each_record(tmp_path: Path) -> None:
    model = _model()
    store = RunStore(tmp_path / "run.sqlite")
    monitor = Monitor(model, store, {"n": Probe(Samples(), every(5), mode="live", window=2)})
    _train(monitor, model, range(1, 11))
    assert [(r.step, r.value) for r in store.scalars(metric="samples")] == [(5, 16.0), (10, 16.0)]


def test_no_hook_is_attached_when_no_live_probe_takes_the_step(tmp_path: Path) -> None:
    model = _model()
    monitor = Monitor(
        model,
        RunStore(tmp_path / "run.sqlite"),
        {"n": Probe(Samples(), at_steps(10), mode="live", window=1)},
    )
    with monitor.live(3) as live:
        assert _hooks(model) == 0
        live.batch(torch.randn(2, 4), torch.zeros(2, dtype=torch.long))
    with monitor.live(10):
        assert _hooks(model) > 0
    assert _hooks(model) == 0


def test_a_live_probe_that_was_never_fed_records_nothing(tmp_path: Path) -> None:
    model = _model()
    store = RunStore(tmp_path / "run.sqlite")
    monitor = Monitor(model, store, {"n": Probe(Samples(), at_steps(0), mode="live")})
    with monitor.live(0):
        pass  # e.g. step 0, the initialisation: nothing was trained on
    monitor.flush()
    assert store.scalars() == []


def test_feeding_without_a_forward_pass_is_an_error(tmp_path: Path) -> None:
    model = _model()
    monitor = Monitor(
        model, RunStore(tmp_path / "run.sqlite"), {"n": Probe(Samples(), every(1), mode="live")}
    )
    x, y = torch.randn(2, 4), torch.zeros(2, dtype=torch.long)
    with pytest.raises(RuntimeError, match="run a forward pass first"), monitor.live(1) as live:
        live.batch(x, y)
    assert _hooks(model) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "training"}, "mode must be 'eval' or 'live', got 'training'"),
        ({"window": 2}, "window applies to live probes only"),
        ({"mode": "live", "window": 0}, "window must be an int >= 1 or None, got 0"),
    ],
)
def test_bad_probe_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Probe(Samples(), every(1), **kwargs)
