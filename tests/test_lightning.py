"""InfodynCallback on a Lightning Trainer: values, live mode, resume, and DDP = one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("lightning")

from infodyn.functional import d_lr, rnc1
from infodyn.rundir import RunDir

sys.path.insert(0, str(Path(__file__).parent))
import lightning_tiny as tiny

SCRIPT = Path(__file__).parent / "lightning_tiny.py"


def _scalars(out: Path) -> dict[tuple[int, str, str, str], float]:
    with RunDir.open(out).store(readonly=True) as store:
        return {(r.step, r.split, r.metric, r.layer): r.value for r in store.scalars()}


def test_eval_mode_records_every_validation_run_with_the_values_of_the_final_model(
    tmp_path: Path,
) -> None:
    module = tiny.fit(tmp_path / "run", epochs=2)
    records = _scalars(tmp_path / "run")
    steps = sorted({step for step, *_ in records})
    assert steps == [6, 12]  # 240 samples / 40 per step, two epochs; no sanity-check record
    assert {split for _, split, *_ in records} == {"val"}
    x, y = tiny.data(1).tensors
    module.eval()
    with torch.no_grad():
        features = module.net[:4](x)
        logits = module(x)
    assert records[(12, "val", "rnc1", "net.4:input")] == pytest.approx(
        float(rnc1(features, y)), rel=1e-9
    )
    assert records[(12, "val", "d_lr", "net.4:input")] == pytest.approx(
        float(d_lr(features, logits)), rel=1e-9
    )
    run = RunDir.open(tmp_path / "run")
    assert run.report_path.is_file() and (run.figures_dir / "richness.png").is_file()
    assert run.config()["hparams"] == {"lr": 0.1, "batch": 40}


def test_live_mode_takes_the_training_batches(tmp_path: Path) -> None:
    # lr = 0: the features do not move, so an epoch's live value is that of the training set
    module = tiny.fit(tmp_path / "live", mode="live", epochs=1, lr=0.0, families=["collapse"])
    records = _scalars(tmp_path / "live")
    assert {(step, split) for step, split, *_ in records} == {(6, "train")}
    x, y = tiny.data(0).tensors
    with torch.no_grad():
        features = module.net[:4](x)
    assert records[(6, "train", "rnc1", "net.4:input")] == pytest.approx(
        float(rnc1(features, y)), rel=1e-9
    )
    with RunDir.open(tmp_path / "live").store(readonly=True) as store:
        assert {r.mode for r in store.scalars()} == {"live"}


def test_a_resumed_fit_continues_the_run_directory(tmp_path: Path) -> None:
    tiny.fit(tmp_path / "whole", epochs=3)
    tiny.fit(tmp_path / "part", epochs=2, checkpoint_dir=tmp_path / "ckpt")
    tiny.fit(
        tmp_path / "part",
        epochs=3,
        ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"),
        checkpoint_dir=tmp_path / "ckpt",
    )
    whole, part = _scalars(tmp_path / "whole"), _scalars(tmp_path / "part")
    assert whole.keys() == part.keys()
    assert all(part[k] == pytest.approx(v, rel=1e-9) for k, v in whole.items())


def test_ddp_on_two_processes_equals_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    for devices, strategy, out in ((1, "auto", "one"), (2, "ddp", "two")):
        done = subprocess.run(
            [sys.executable, str(SCRIPT), str(tmp_path / out), "--devices", str(devices),
             "--strategy", strategy],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = _scalars(tmp_path / "one"), _scalars(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) > 30
    for key, value in one.items():
        assert two[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
