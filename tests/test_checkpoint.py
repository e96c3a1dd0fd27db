"""Checkpoints: weights-only round trip, pruning, corrupt-file fallback, refusal of objects."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from infodyn.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    save_checkpoint,
)
from infodyn.rundir import RunDir


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir.create(tmp_path / "run", {"experiment": "test"})


def _trained_model_and_optimizer() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    loss = model(torch.randn(5, 4)).square().mean()
    loss.backward()
    opt.step()
    return model, opt


def test_round_trip_of_model_and_optimizer_state(run: RunDir) -> None:
    model, opt = _trained_model_and_optimizer()
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "rng": torch.get_rng_state(),
        "step": 1234,
        "note": "ok",
    }
    path = save_checkpoint(run, 1234, state)
    assert path == run.checkpoints_dir / "step-00001234.pt" == checkpoint_path(run, 1234)
    # The file loads with plain torch in weights-only mode: no code runs on load.
    raw = torch.load(path, weights_only=True, map_location="cpu")
    assert raw["step"] == 1234

    loaded = latest_checkpoint(run)
    assert loaded is not None
    step, got = loaded
    assert step == 1234 and got["step"] == 1234 and got["note"] == "ok"
    torch.testing.assert_close(got["rng"], state["rng"])

    fresh_model, fresh_opt = _trained_model_and_optimizer()
    with torch.no_grad():
        for p in fresh_model.parameters():
            p.zero_()
    fresh_model.load_state_dict(got["model"])
    fresh_opt.load_state_dict(got["optimizer"])
    for a, b in zip(fresh_model.state_dict().values(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    exp_avg = opt.state_dict()["state"][0]["exp_avg"]
    torch.testing.assert_close(fresh_opt.state_dict()["state"][0]["exp_avg"], exp_avg)


def test_keeps_only_the_newest(run: RunDir) -> None:
    for step in (0, 10, 20, 30, 40):
        save_checkpoint(run, step, {"w": torch.tensor([float(step)])}, keep=2)
    assert [s for s, _ in list_checkpoints(run)] == [30, 40]
    save_checkpoint(run, 50, {"w": torch.tensor([50.0])}, keep=1)
    assert [s for s, _ in list_checkpoints(run)] == [50]
    assert sorted(os.listdir(run.checkpoints_dir)) == ["step-00000050.pt"]  # no temporaries


def test_saving_an_earlier_step_drops_the_abandoned_future(run: RunDir) -> None:
    for step in (10, 20, 30):
        save_checkpoint(run, step, {"s": step}, keep=5)
    save_checkpoint(run, 25, {"s": 25}, keep=5)  # resumed from 20, got to 25
    assert [s for s, _ in list_checkpoints(run)] == [10, 20, 25]


def test_corrupt_newest_falls_back_with_a_warning(run: RunDir) -> None:
    save_checkpoint(run, 100, {"w": torch.ones(3)})
    newest = save_checkpoint(run, 200, {"w": torch.full((3,), 2.0)})
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a truncated write
    with pytest.warns(UserWarning, match=r"step-00000200\.pt is unreadable.*falling back"):
        loaded = latest_checkpoint(run)
    assert loaded is not None
    assert loaded[0] == 100
    torch.testing.assert_close(loaded[1]["w"], torch.ones(3))


def test_a_foreign_file_counts_as_corrupt(run: RunDir) -> None:
    save_checkpoint(run, 1, {"w": torch.ones(1)})
    torch.save({"w": torch.zeros(1)}, checkpoint_path(run, 2))  # loadable, but not ours
    with pytest.warns(UserWarning, match="not an infodyn-checkpoint-v1 file"):
        loaded = latest_checkpoint(run)
    assert loaded is not None and loaded[0] == 1


def test_no_readable_checkpoint_gives_none(run: RunDir) -> None:
    assert latest_checkpoint(run) is None
    checkpoint_path(run, 5).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        assert latest_checkpoint(run) is None


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ({"model": nn.Linear(2, 2)}, r"state\['model'\] is a torch.nn.modules.linear.Linear"),
        ({"rng": np.random.RandomState(0).get_state()}, r"state\['rng'\]\[1\] is a numpy.ndarray"),
        ({"x": np.zeros(2)}, r"convert with torch.from_numpy"),
        ({"nested": [1, {"f": print}]}, r"state\['nested'\]\[1\]\['f'\]"),
        ({"k": {(1, 2): 3}}, r"key \(1, 2\)"),
    ],
)
def test_arbitrary_objects_are_refused(run: RunDir, state: dict, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        save_checkpoint(run, 0, state)
    assert list_checkpoints(run) == []


def test_generator_states_of_plain_ints_are_accepted(run: RunDir) -> None:
    # numpy's Generator state is plain (128-bit) ints: it needs no conversion.
    rng_state = np.random.default_rng(0).bit_generator.state
    save_checkpoint(run, 0, {"numpy_rng": rng_state})
    loaded = latest_checkpoint(run)
    assert loaded is not None and loaded[1]["numpy_rng"] == rng_state


def test_argument_validation(run: RunDir) -> None:
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        save_checkpoint(run, -1, {})
    with pytest.raises(ValueError, match="keep must be an int >= 1"):
        save_checkpoint(run, 0, {}, keep=0)
    with pytest.raises(TypeError, match="must be a mapping"):
        save_checkpoint(run, 0, [torch.ones(1)])  # type: ignore[arg-type]


def test_leftover_temporaries_are_cleaned(run: RunDir) -> None:
    leftover = run.checkpoints_dir / ".step-00000009.pt.abc123.tmp"
    leftover.write_bytes(b"half")
    save_checkpoint(run, 10, {})
    assert not leftover.exists()
    assert latest_checkpoint(run) == (10, {})
