"""Grokking with the decoder-only transformer: the model, the config switch, a tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from infodyn.config import ConfigError, build_config
from infodyn.experiments.grokking import GROKKING, TRANSFORMER_DEFAULTS, GrokkingConfig
from infodyn.experiments.grokking_phases import phase_headlines
from infodyn.loop import RunLoop
from infodyn.models import ModularTransformer
from infodyn.models.transformer import CausalSelfAttention
from infodyn.rundir import RunDir
from infodyn.store import RunStore, Scalar

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


def _reference_logits(net: ModularTransformer, pairs: torch.Tensor) -> torch.Tensor:
    """The textbook computation: every position through every block, nn.MultiheadAttention."""
    equals = torch.full_like(pairs[:, :1], net.modulus)
    x = net.embed(torch.cat([pairs, equals], dim=1)) + net.position
    causal = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
    for block in net.blocks:
        x = x + _as_multihead(block.attn)(x, x, x, attn_mask=causal, need_weights=False)[0]
        x = x + block.mlp(x)
    return net.head(x[:, -1])


def _as_multihead(attn: CausalSelfAttention) -> nn.MultiheadAttention:
    d = attn.out_proj.in_features
    mha = nn.MultiheadAttention(d, attn.heads, batch_first=True).to(attn.in_proj.weight.dtype)
    # Share the parameters themselves, so gradients land on the fast model's tensors too.
    mha.in_proj_weight = attn.in_proj.weight
    mha.in_proj_bias = attn.in_proj.bias
    mha.out_proj.weight = attn.out_proj.weight
    mha.out_proj.bias = attn.out_proj.bias
    return mha


def _randomise_biases(net: nn.Module) -> None:
    # Biases start at zero; give them values so the equality covers them.
    with torch.no_grad():
        for name, param in net.named_parameters():
            if name.endswith("bias"):
                param.normal_(std=0.3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_fast_forward_and_gradients_equal_multihead_attention(
    layers: int, dtype: torch.dtype
) -> None:
    torch.manual_seed(layers)
    net = ModularTransformer(modulus=13, d_model=32, heads=4, d_mlp=64, layers=layers).to(dtype)
    _randomise_biases(net)
    pairs = torch.cartesian_prod(torch.arange(13), torch.arange(13))
    labels = (pairs[:, 0] + pairs[:, 1]) % 13
    results = []
    for forward in (net, lambda p: _reference_logits(net, p)):
        net.zero_grad()
        logits = forward(pairs)
        F.cross_entropy(logits, labels).backward()
        grads = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
        results.append((logits.detach(), grads))
    (fast, fast_grads), (ref, ref_grads) = results
    assert ref.abs().max() > 1.0 and fast_grads.keys() == ref_grads.keys()
    # float64: the same arithmetic up to rounding; float32: 1e-6 of the largest value (rounding
    # through the blocks grows with depth, ~1e-7 relative per block).
    scale = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(fast, ref, atol=scale * float(ref.abs().max()), rtol=0)
    for name, grad in ref_grads.items():
        atol = scale * max(float(grad.abs().max()), 1e-3)
        torch.testing.assert_close(fast_grads[name], grad, atol=atol, rtol=0, msg=name)


def test_attention_equals_multihead_attention_at_every_position() -> None:
    torch.manual_seed(0)
    attn = CausalSelfAttention(d_model=24, heads=3)
    _randomise_biases(attn)
    x = torch.randn(50, 3, 24)
    causal = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
    ref = _as_multihead(attn)(x, x, x, attn_mask=causal, need_weights=False)[0]
    torch.testing.assert_close(attn(x), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(attn(x, last_only=True), ref[:, -1:], atol=1e-6, rtol=0)


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
        streams.append(net.blocks[0](x)[0])
    assert torch.allclose(streams[0][0], streams[1][0])
    assert not torch.allclose(streams[0][1], streams[1][1])


def test_initialisation_follows_nanda_et_al() -> None:
    torch.manual_seed(0)
    net = ModularTransformer(modulus=113, d_model=128, heads=4, d_mlp=512, layers=1)
    net.requires_grad_(False)
    assert abs(float(net.embed.weight.std()) - 128**-0.5) < 0.002
    assert abs(float(net.blocks[0].mlp[2].weight.std()) - 128**-0.5) < 0.002
    assert abs(float(net.head.weight.std()) - 113**-0.5) < 0.002
    assert float(net.blocks[0].attn.in_proj.bias.abs().max()) == 0.0


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


# The MLP run's defaults, exactly as before the transformer work (commit ceed753).
MLP_DEFAULT = {
    "experiment": "grokking",
    "seed": 0,
    "steps": 7000,
    "threads": 2,
    "device": "cpu",
    "keep_checkpoints": 2,
    "archive_checkpoints": 0,
    "data": {"modulus": 97, "operation": "add", "train_fraction": 0.4},
    "model": {
        "kind": "mlp",
        "embed_dim": 64,
        "hidden_dim": 256,
        "d_model": 128,
        "heads": 4,
        "d_mlp": 512,
        "layers": 1,
    },
    "optim": {"lr": 0.001, "weight_decay": 1.0, "beta1": 0.9, "beta2": 0.98},
    "monitor": {
        "points": 48,
        "eval_samples": 512,
        "eval_batch": 512,
        "mode": "batch_mean",
        "richness": True,
        "log_every": 10,
        "checkpoint_every": 500,
        "capture": "eval",
    },
}


def test_mlp_default_config_is_unchanged() -> None:
    assert GrokkingConfig().model_dump(mode="json") == MLP_DEFAULT
    assert build_config(GrokkingConfig, []).model_dump(mode="json") == MLP_DEFAULT
    assert build_config(GrokkingConfig, ["model.kind=mlp"]).model_dump(mode="json") == MLP_DEFAULT


MLP_TINY = [
    "steps=30",
    "threads=1",
    "data.modulus=23",
    "model.embed_dim=8",
    "model.hidden_dim=32",
    "monitor.points=4",
    "monitor.eval_samples=64",
    "monitor.eval_batch=64",
    "monitor.checkpoint_every=15",
]

# Final values of the MLP_TINY run at commit ceed753, before the transformer work; the run's 94
# records were bit for bit the same after it. The MLP's path (config, split, model, loop,
# probes) must not move; the tolerance only allows for another CPU's float rounding.
MLP_TINY_FINAL = {
    "train_accuracy": 0.09433962264150944,
    "test_accuracy": 0.03785488958990536,
    "train_loss": 3.0602476596832275,
    "test_loss": 3.2208707332611084,
    "train_mir": 0.46593265730591177,
    "test_mir": 0.5022198309858368,
    "train_hdr": 0.1257415082279071,
    "test_hdr": 0.12837721892495998,
    "train_d_lr": 0.38419936961385137,
    "test_d_lr": 0.39939878916574423,
}


def test_mlp_run_records_as_before_the_transformer(tmp_path: Path) -> None:
    config = build_config(GrokkingConfig, MLP_TINY)
    run = RunDir.create(tmp_path / "run", config.model_dump(mode="json"))
    final = RunLoop(GROKKING, config, run).run()
    assert {k: final[k] for k in MLP_TINY_FINAL} == pytest.approx(MLP_TINY_FINAL, rel=1e-4)


def test_transformer_defaults_fill_only_unset_keys() -> None:
    config = build_config(GrokkingConfig, ["model.kind=transformer"])
    expected = {**MLP_DEFAULT, **TRANSFORMER_DEFAULTS}
    expected["data"] = {**MLP_DEFAULT["data"], **TRANSFORMER_DEFAULTS["data"]}
    expected["model"] = {**MLP_DEFAULT["model"], "kind": "transformer"}
    assert config.model_dump(mode="json") == expected
    given = build_config(
        GrokkingConfig, ["model.kind=transformer", "steps=5", "data.train_fraction=0.5"]
    )
    assert (given.steps, given.data.train_fraction, given.data.modulus) == (5, 0.5, 113)
    # a saved config (every key present) comes back as it was
    assert GrokkingConfig.model_validate(given.model_dump(mode="json")) == given


def _synthetic_run(path: Path, *, generalises: bool = True) -> RunStore:
    """Accuracy every 10 steps (fit at 20, generalisation at 60 or never), MIR/HDR/D_LR at
    steps 0, 5, 25, 50, 70, 100 with known values."""
    store = RunStore(path / "run.sqlite")
    records = []
    for step in range(0, 101, 10):
        records.append(Scalar(step, "train", "accuracy", 1.0 if step >= 20 else 0.1))
        test_acc = 0.95 if generalises and step >= 60 else 0.05
        records.append(Scalar(step, "test", "accuracy", test_acc))
    measured = [0, 5, 25, 50, 70, 100]
    for metric, values in {
        "mir": [0.50, 0.55, 0.60, 0.58, 0.45, 0.40],
        "hdr": [0.20, 0.15, 0.10, 0.12, 0.16, 0.18],
        "d_lr": [0.52, 0.50, 0.40, 0.30, 0.15, 0.10],
    }.items():
        records += [Scalar(s, "train", metric, v) for s, v in zip(measured, values, strict=True)]
        records += [Scalar(s, "test", metric, 9.0) for s in measured]  # never read
    store.write(records)
    return store


def test_phase_headlines_read_the_first_measurement_at_or_after_each_event(
    tmp_path: Path,
) -> None:
    with _synthetic_run(tmp_path) as store:
        summary = GROKKING.summarize(store, GrokkingConfig())
    value = {h.key: h.value for h in summary.headlines}
    assert (value["fit_step"], value["generalize_step"]) == (20, 60)
    # fit at 20 → the measurement at 25; generalisation at 60 → the one at 70
    assert (value["mir_start"], value["mir_at_fit"]) == (0.50, 0.60)
    assert (value["mir_at_generalize"], value["mir_end"]) == (0.45, 0.40)
    assert (value["hdr_at_fit"], value["hdr_at_generalize"]) == (0.10, 0.16)
    assert (value["d_lr_start"], value["d_lr_end"]) == (0.52, 0.10)
    assert value["mir_fit_to_generalize"] == pytest.approx(0.45 - 0.60)
    assert value["hdr_fit_to_generalize"] == pytest.approx(0.16 - 0.10)
    assert value["d_lr_start_to_end"] == pytest.approx(0.10 - 0.52)
    labels = {h.key: h.label for h in summary.headlines}
    assert labels["hdr_fit_to_generalize"] == (
        "HDR change, fit → generalisation (Song et al.: > 0)"
    )
    assert summary.headline("d_lr_start_to_end").text() == "-0.4200"  # type: ignore[union-attr]


def test_phase_headlines_without_generalisation_or_richness(tmp_path: Path) -> None:
    with _synthetic_run(tmp_path, generalises=False) as store:
        headlines = phase_headlines(store, 20, None)
    value = {h.key: h.value for h in headlines}
    assert value["mir_at_generalize"] is None and value["hdr_fit_to_generalize"] is None
    assert value["d_lr_start_to_end"] == pytest.approx(-0.42)
    with RunStore(tmp_path / "bare.sqlite") as store:
        store.write([Scalar(0, "train", "mir", 0.5)])
        keys = [h.key for h in phase_headlines(store, None, None)]
    phases = ["mir_start", "mir_at_fit", "mir_at_generalize", "mir_end"]
    assert keys == [*phases, "mir_fit_to_generalize"]  # no HDR, no D_LR recorded
