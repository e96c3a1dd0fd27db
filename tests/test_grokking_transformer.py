"""Grokking with the decoder-only transformer: the model, the config switch, a tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from infodyn.config import ConfigError, build_config
from infodyn.experiments.grokking import GROKKING, GrokkingConfig
from infodyn.loop import RunLoop
from infodyn.models import ModularTransformer
from infodyn.rundir import RunDir

TINY = [
    "steps=12",
    "threads=1",
    "data.modulus=11",
    "model.kind=transformer",
    "model.d_model=16",
    "model.heads=2",
    "model.d_mlp=32",
    "monitor.points=4",
    "monitor.eval_samples=40",
    "monitor.eval_batch=40",
    "monitor.checkpoint_every=6",
]


def test_readout_is_the_last_position_and_attention_is_causal() -> None:
    torch.manual_seed(0)
    net = ModularTransformer(modulus=11, d_model=16, heads=2, d_mlp=32, layers=2).eval()
    pairs = torch.tensor([[1, 2], [1, 5]])
    captured = {}
    net.head.register_forward_pre_hook(lambda m, a: captured.setdefault("x", a[0]))
    logits = net(pairs)
    assert logits.shape == (2, 11) and captured["x"].shape == (2, 16)
    # position 0 (operand a) sees only itself: changing b leaves its stream alone
    streams = []
    for p in pairs:
        x = net.embed(torch.cat([p, torch.tensor([11])]))[None] + net.position
        streams.append(net.blocks[0](x, net.causal)[0, 0])
    assert torch.allclose(streams[0], streams[1])


def test_tiny_transformer_run_records_the_families(tmp_path: Path) -> None:
    config = build_config(GrokkingConfig, TINY)
    run = RunDir.create(tmp_path / "run", config.model_dump(mode="json"))
    final = RunLoop(GROKKING, config, run).run()
    assert 0.0 <= final["test_mir"] <= 1.0 and "test_d_lr" in final
    with run.store(readonly=True) as store:
        assert {"mir", "hdr", "d_lr", "accuracy"} <= {m for m, _, _ in store.keys()}


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(ConfigError, match=r"model.d_model \(10\) must be divisible by model.heads"):
        build_config(GrokkingConfig, ["model.kind=transformer", "model.d_model=10"])
