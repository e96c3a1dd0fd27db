"""infodyn inspect: every family at every kept checkpoint, of a run or of other code's files."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from infodyn.checkpoint import list_checkpoints
from infodyn.cli import app
from infodyn.inspection import checkpoint_steps, load_state_dict_file
from infodyn.rundir import RunDir

runner = CliRunner()
TINY = [
    "steps=30", "data.modulus=11", "model.embed_dim=8", "model.hidden_dim=32",
    "monitor.points=6", "monitor.eval_samples=40", "monitor.eval_batch=20",
    "monitor.log_every=5", "monitor.checkpoint_every=10", "threads=1",
]  # fmt: skip


def _run(out: Path, *sets: str) -> Path:
    args = [a for s in (*TINY, *sets) for a in ("--set", s)]
    result = runner.invoke(app, ["run", "grokking", *args, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def _scalars(run_dir: Path) -> dict[tuple[int, str, str, str], float]:
    with RunDir.open(run_dir).store(readonly=True) as store:
        return {(r.step, r.split, r.metric, r.layer): r.value for r in store.scalars()}


def test_inspect_a_run_at_every_archived_checkpoint(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "runs", "archive_checkpoints=1", "keep_checkpoints=1")
    kept = [step for step, _ in list_checkpoints(RunDir.open(run_dir), archived=True)]
    assert kept == [0, 10, 20, 30] or kept == [10, 20, 30]
    assert len(list_checkpoints(RunDir.open(run_dir))) == 1  # the resume copy: newest only
    result = runner.invoke(
        app, ["inspect", str(run_dir), "--family", "matrix", "--family", "collapse", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    inspected = _scalars(run_dir / "inspect")
    assert {step for step, *_ in inspected} == set(kept)
    assert {split for _, split, *_ in inspected} == {"train", "test"}
    # the run measured MIR on the same fixed evaluation batches: the same value
    own = _scalars(run_dir)
    shared = [k for k in inspected if k[2] in ("mir", "hdr") and k in own]
    assert {step for step, *_ in shared} >= {0, 30} - ({0} - set(kept))
    for key in shared:
        assert inspected[key] == pytest.approx(own[key], rel=1e-9)
    report = (run_dir / "inspect" / "report.html").read_text()
    assert "data:image/png;base64," in report
    again = runner.invoke(app, ["inspect", str(run_dir), "--quiet"])
    assert again.exit_code != 0 and "exists" in again.output


def test_a_run_without_archive_keeps_its_last_checkpoints_for_inspection(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "runs")
    result = runner.invoke(
        app, ["inspect", str(run_dir), "--family", "richness", "--out", str(tmp_path / "i")]
    )
    assert result.exit_code == 0, result.output
    assert {step for step, *_ in _scalars(tmp_path / "i")} == {20, 30}


FACTORY = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

def model():
    return nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3))

def other_model():
    return nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 3))

def data():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 4, generator=g), torch.arange(90) % 3
    return {"val": DataLoader(TensorDataset(x, y), batch_size=30)}
"""


@pytest.fixture
def factory_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(textwrap.dedent(FACTORY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("userpkg.train", None)
    return tmp_path


def test_inspect_files_written_by_other_code(factory_module: Path) -> None:
    from userpkg.train import model  # type: ignore[import-not-found]

    paths = []
    for step in (100, 20):  # given out of order: ordered by the step in their names
        torch.manual_seed(step)
        net = model()
        path = factory_module / f"ckpt_step{step}.pt"
        torch.save(net.state_dict(), path)
        paths.append(path)
    lightning_style = factory_module / "epoch=3-step=250.ckpt"
    torch.save({"state_dict": model().state_dict(), "epoch": 3}, lightning_style)
    args = ["inspect", "--model", "userpkg.train:model", "--data", "userpkg.train:data"]
    for path in (*paths, lightning_style):
        args += ["--checkpoint", str(path)]
    result = runner.invoke(app, [*args, "--out", str(factory_module / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    records = _scalars(factory_module / "out")
    assert {step for step, *_ in records} == {20, 100, 250}
    assert {split for _, split, *_ in records} == {"val"}
    assert "te_mean" in {metric for _, _, metric, _ in records}
    # the value at step 100 is that of the model saved at step 100
    from userpkg.train import data

    from infodyn import measure

    net = model()
    net.load_state_dict(torch.load(paths[0], weights_only=True))
    direct = measure(net, data()["val"], families="collapse")
    assert records[(100, "val", "rnc1", "2:input")] == pytest.approx(direct["rnc1@2:input"])


def test_bad_checkpoints_and_specs_are_named(factory_module: Path) -> None:
    from userpkg.train import model

    good = factory_module / "good.pt"
    torch.save(model().state_dict(), good)
    pickled = factory_module / "object.pt"
    torch.save(model(), pickled)  # a whole module: not loadable with weights_only=True
    with pytest.raises(ValueError, match="weights_only=True"):
        load_state_dict_file(pickled)
    no_tensors = factory_module / "meta.pt"
    torch.save({"epoch": 3}, no_tensors)
    with pytest.raises(ValueError, match="holds no model state dict"):
        load_state_dict_file(no_tensors)
    base = ["inspect", "--data", "userpkg.train:data", "--checkpoint", str(good), "--quiet"]
    cases = [
        (["--model", "userpkg.train:other_model"], "does not fit the model"),
        (["--model", "userpkg.nothere:model"], "cannot import 'userpkg.nothere'"),
        (["--model", "userpkg.train"], "expected 'package.module:name'"),
        (["--model", "userpkg.train:model", "--checkpoint", "missing.pt"], "not a file"),
    ]
    for i, (extra, message) in enumerate(cases):
        result = runner.invoke(app, [*base, *extra, "--out", str(factory_module / f"o{i}")])
        assert result.exit_code != 0 and message in result.output, result.output
    both = runner.invoke(app, ["inspect", str(factory_module), "--model", "userpkg.train:model"])
    assert both.exit_code != 0 and "not both" in both.output


def test_checkpoint_steps_come_from_names_or_order() -> None:
    named = checkpoint_steps([Path("b_step_30.pt"), Path("a_step_7.pt")])
    assert [s for s, _ in named] == [7, 30]
    assert [p.name for _, p in checkpoint_steps([Path("z.pt"), Path("a.pt")])] == ["z.pt", "a.pt"]
    with pytest.raises(ValueError, match="same step"):
        checkpoint_steps([Path("x_step1.pt"), Path("y_step1.pt")])
