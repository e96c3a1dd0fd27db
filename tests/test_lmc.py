"""The linear-mode-connectivity experiment: a tiny run end to end, the path's pieces by hand.

Interpolation endpoints are exactly the two networks; BatchNorm statistics are recomputed to
what a hand pass over the same batches gives; barriers and the α grid are checked against
hand values and bad input is refused with messages that say what to do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.compare import build_comparison, load_runs, write_comparison
from infodyn.config import ConfigError, build_config
from infodyn.experiments.lmc import LMC_EXPERIMENT, LMCConfig, LMCNetworks
from infodyn.experiments.lmc_path import (
    PathData,
    barrier,
    check_alphas,
    check_same_architecture,
    interpolate_state,
    measure_path,
    recompute_batchnorm,
)
from infodyn.loop import seed_everything
from infodyn.models.small import SmallCNN
from infodyn.rundir import RunDir
from resume_helpers import crashed_and_resumed

runner = CliRunner()

TINY = [
    "steps=12",
    "data.train_size=60",
    "data.batch_size=16",
    "model.channels=[4,8]",
    "model.hidden=12",
    "monitor.log_every=6",
    "monitor.path_points=2",
    "monitor.mi_samples=40",
    "monitor.bn_batch=32",
    "monitor.checkpoint_every=6",
    "alphas=[0,0.5,1]",
]


def _cli_sets(overrides: list[str]) -> list[str]:
    return [a for item in overrides for a in ("--set", item)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    out = tmp_path_factory.mktemp("runs")
    args = ["run", "lmc", *_cli_sets(TINY), "--out", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return RunDir.open(run_dir)


def test_tiny_run_stores_paths_per_alpha_and_their_summaries(tiny_run: RunDir) -> None:
    with tiny_run.store(readonly=True) as store:
        keys = set(store.keys())
        arrays = store.arrays()
    path_steps = sorted({a.step for a in arrays if a.metric == "path_loss"})
    assert path_steps == [6, 12]  # two evenly spaced path points; the last one is the end
    for split in ("train", "test"):
        for pair in ("connected", "independent"):
            for metric in (
                "loss_barrier", "error_barrier", "mir_dip", "hdr_rise",
                "mir_change_at_barrier", "hdr_change_at_barrier",
            ):  # fmt: skip
                assert (metric, split, pair) in keys
        for net in "ABCD":
            assert ("net_loss", split, net) in keys and ("net_accuracy", split, net) in keys
    last = {(a.metric, a.split, a.layer): a.value for a in arrays if a.step == 12}
    assert last[("path_alpha", "test", "")].tolist() == [0.0, 0.5, 1.0]
    for q in ("loss", "accuracy", "mir", "hdr", "entropy_features", "entropy_head"):
        assert last[(f"path_{q}", "test", "connected")].shape == (3,)
    # the stored barrier is the barrier of the stored path
    with tiny_run.store(readonly=True) as store:
        stored = float(store.series("loss_barrier", "test", layer="independent")[1][-1])
    loss = last[("path_loss", "test", "independent")]
    assert stored == pytest.approx(barrier([0.0, 0.5, 1.0], loss))


def test_tiny_run_headlines_and_figures(tiny_run: RunDir) -> None:
    from infodyn.runner import summarize_run

    summary = summarize_run(tiny_run)
    keys = [h.key for h in summary.headlines]
    assert keys[:2] == ["loss_barrier_connected", "error_barrier_connected"]
    assert "hdr_change_at_barrier_independent" in keys and keys[-1] == "final_test_accuracy"
    assert all(h.value is not None for h in summary.headlines)
    for name in ("paths.png", "networks.png"):
        assert (tiny_run.figures_dir / name).stat().st_size > 10_000


def _setup(overrides: list[str]):  # type: ignore[no-untyped-def]
    config = build_config(LMCConfig, overrides)
    seed_everything(config.seed)
    return config, LMC_EXPERIMENT.build(config, torch.device("cpu"))


def _same_parameters(a: nn.Module, b: nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_connected_pair_shares_its_init_and_the_independent_pair_does_not() -> None:
    _, setup = _setup(TINY)
    nets: LMCNetworks = setup.model  # type: ignore[assignment]
    assert _same_parameters(nets.network("A"), nets.network("B"))
    assert not _same_parameters(nets.network("C"), nets.network("D"))
    assert not _same_parameters(nets.network("A"), nets.network("C"))
    LMC_EXPERIMENT.train_step(setup, 1)
    assert not _same_parameters(nets.network("A"), nets.network("B"))  # different batches


def test_shared_steps_spawn_b_as_an_exact_copy_of_a_then_they_diverge() -> None:
    _, setup = _setup([*TINY, "shared_steps=3"])
    nets: LMCNetworks = setup.model  # type: ignore[assignment]
    b_init = {k: v.clone() for k, v in nets.network("B").state_dict().items()}
    for step in (1, 2):
        LMC_EXPERIMENT.train_step(setup, step)
        for k, v in nets.network("B").state_dict().items():  # B waits while A trains
            assert torch.equal(v, b_init[k])
    LMC_EXPERIMENT.train_step(setup, 3)
    assert _same_parameters(nets.network("A"), nets.network("B"))
    opt = setup.optimizer
    pairs = zip(nets.network("A").parameters(), nets.network("B").parameters(), strict=True)
    for pa, pb in pairs:
        assert torch.equal(opt.state[pa]["momentum_buffer"], opt.state[pb]["momentum_buffer"])
        assert opt.state[pa]["momentum_buffer"] is not opt.state[pb]["momentum_buffer"]
    LMC_EXPERIMENT.train_step(setup, 4)
    assert not _same_parameters(nets.network("A"), nets.network("B"))


def test_a_crash_then_resume_records_exactly_what_an_uninterrupted_run_does(
    tmp_path: Path,
) -> None:
    config = build_config(LMCConfig, [*TINY, "shared_steps=4"])

    def records(run: RunDir) -> tuple[list[tuple], list[tuple]]:
        with run.store(readonly=True) as store:
            scalars = [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]
            arrays = [
                (a.step, a.split, a.metric, a.layer, a.value.tolist()) for a in store.arrays()
            ]
        return scalars, arrays

    reference, crashed = crashed_and_resumed(LMC_EXPERIMENT, config, tmp_path, crash_step=9)
    assert records(crashed) == records(reference)


# -- the path's pieces --------------------------------------------------------------------------


def _trained_pair(batchnorm: bool) -> tuple[SmallCNN, SmallCNN, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(48, 1, 8, 8, generator=g)
    y = torch.arange(48) % 3
    torch.manual_seed(1)
    a = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=10, batchnorm=batchnorm)
    torch.manual_seed(2)
    b = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=10, batchnorm=batchnorm)
    for net in (a, b):  # a few steps, so running statistics and weights are not at init
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
    return a, b, x, y


@torch.no_grad()
def _eval_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    return float(F.cross_entropy(net(x), y))


def test_path_endpoints_are_exactly_the_two_networks_without_batchnorm() -> None:
    a, b, x, y = _trained_pair(batchnorm=False)
    path = measure_path(a, b, [0.0, 0.25, 0.5, 1.0], PathData(x, y, mi_samples=48))
    assert path["loss"][0] == _eval_loss(a, x, y)  # exactly, not approximately
    assert path["loss"][-1] == _eval_loss(b, x, y)
    assert not math.isclose(path["loss"][1], path["loss"][0])
    state = interpolate_state(a.state_dict(), b.state_dict(), 1.0)
    assert all(torch.equal(state[k], v) for k, v in b.state_dict().items())


def test_path_endpoints_with_batchnorm_are_the_networks_with_recomputed_statistics() -> None:
    a, b, x, y = _trained_pair(batchnorm=True)
    batches = lambda: list(x.split(16))  # noqa: E731
    path = measure_path(a, b, [0.0, 0.5, 1.0], PathData(x, y, 48, bn_batches=batches))
    for net, value in ((a, path["loss"][0]), (b, path["loss"][-1])):
        before = net.conv1[1].running_var.clone()
        recompute_batchnorm(net, batches())
        assert not torch.equal(net.conv1[1].running_var, before)  # training's averages differ
        assert value == _eval_loss(net, x, y)


def test_interpolation_mixes_floats_and_takes_integer_buffers_from_a() -> None:
    a, b, _, _ = _trained_pair(batchnorm=True)
    sa, sb = a.state_dict(), b.state_dict()
    sb["conv1.1.num_batches_tracked"] = sa["conv1.1.num_batches_tracked"] + 7
    mid = interpolate_state(sa, sb, 0.25)
    torch.testing.assert_close(
        mid["head.weight"], 0.75 * sa["head.weight"] + 0.25 * sb["head.weight"]
    )
    torch.testing.assert_close(
        mid["conv1.1.running_mean"],
        0.75 * sa["conv1.1.running_mean"] + 0.25 * sb["conv1.1.running_mean"],
    )
    assert torch.equal(mid["conv1.1.num_batches_tracked"], sa["conv1.1.num_batches_tracked"])


def test_batchnorm_recomputation_matches_a_hand_pass_over_the_batches() -> None:
    """Running mean = mean of the batch means, running var = mean of the unbiased batch
    variances, of the BatchNorm's input over (N, H, W); the interpolated stats are replaced."""
    a, b, x, _ = _trained_pair(batchnorm=True)
    net = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=10, batchnorm=True)
    net.load_state_dict(interpolate_state(a.state_dict(), b.state_dict(), 0.5))
    interpolated = net.conv2[1].running_var.clone()
    batches = list(x.split(20))  # 20, 20, 8: unequal batches, each counted once
    inputs: list[torch.Tensor] = []
    net.eval()
    with torch.no_grad():
        for xb in batches:  # the hand pass: conv2's BN input, with conv1's BN in train mode
            h = net.conv1[0](xb)
            h = F.batch_norm(h, None, None, net.conv1[1].weight, net.conv1[1].bias, training=True)
            h = net.conv1[3](net.conv1[2](h))
            inputs.append(net.conv2[0](h))
    mean = torch.stack([i.mean(dim=(0, 2, 3)) for i in inputs]).mean(0)
    var = torch.stack([i.var(dim=(0, 2, 3), unbiased=True) for i in inputs]).mean(0)
    assert recompute_batchnorm(net, batches) == 2
    assert not torch.allclose(net.conv2[1].running_var, interpolated)
    torch.testing.assert_close(net.conv2[1].running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net.conv2[1].running_var, var, rtol=1e-5, atol=1e-6)
    assert net.conv2[1].momentum == 0.1 and not net.training  # restored


def test_barrier_is_the_largest_rise_above_the_chord() -> None:
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    loss = np.array([1.0, 2.0, 4.0, 2.5, 3.0])  # chord 1, 1.5, 2, 2.5, 3
    assert barrier(alphas, loss) == pytest.approx(2.0)
    accuracy = np.array([0.9, 0.8, 0.5, 0.9, 1.0])  # chord 0.9 … 1.0; drop at 0.5: 0.45
    assert barrier(alphas, accuracy, sign=-1.0) == pytest.approx(0.45)
    assert barrier(alphas, np.array([0.0, np.nan, -1.0, 0.5, 1.0])) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("alphas", "message"),
    [
        ([0.0], "at least 2 points"),
        ([0.0, 0.5, 1.5], r"must lie in \[0, 1\].*\[1.5\]"),
        ([-0.1, 1.0], r"must lie in \[0, 1\]"),
        ([0.0, 0.5, 0.5, 1.0], "must be distinct"),
        ([0.0, 0.5], "must include both endpoints 0 and 1"),
    ],
)
def test_bad_alpha_grids_are_refused(alphas: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_alphas(alphas)
    with pytest.raises(ConfigError, match=message):
        build_config(LMCConfig, [f"alphas={json.dumps(alphas)}"])


def test_bad_configs_name_the_key_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"shared_steps \(50\) must be below steps \(50\)"):
        build_config(LMCConfig, ["steps=50", "shared_steps=50"])
    with pytest.raises(ConfigError, match="lmc trains a small CNN on digits, mnist1d"):
        build_config(LMCConfig, ["data.name=iris"])


def test_networks_of_different_architectures_cannot_be_interpolated() -> None:
    narrow = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=10)
    wide = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=12)
    with pytest.raises(ValueError, match=r"fc.1.weight is \(10, 24\) in A but \(12, 24\) in B"):
        interpolate_state(narrow.state_dict(), wide.state_dict(), 0.5)
    with_bn = SmallCNN((1, 8, 8), 3, channels=(4, 6), hidden=10, batchnorm=True)
    with pytest.raises(ValueError, match="different architectures: entries only in A"):
        check_same_architecture(with_bn.state_dict(), narrow.state_dict())
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8) % 3
    with pytest.raises(ValueError, match="interpolate only networks built from the same config"):
        measure_path(narrow, wide, [0.0, 1.0], PathData(x, y, 8))


def test_compare_adds_the_barrier_tables_and_the_path_figure(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["sweep", "lmc", "--seeds", "2", *_cli_sets(TINY), "--workers", "1"]
    args += ["--threads", "1", "--out", str(sweep), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = write_comparison(build_comparison(load_runs([sweep])), tmp_path / "cmp")
    record = json.loads(out.record.read_text(encoding="utf-8"))
    assert record["experiment_error"] is None
    assert set(record["tables"]) == {"lmc_barriers", "lmc_contrast"}
    pairs = record["tables"]["lmc_barriers"]["groups"][0]["pairs"]
    assert pairs["independent"]["loss_barrier_test"]["n"] == 2
    assert record["experiment_figures"] == ["figures/lmc_paths.png"]
    page = out.page.read_text(encoding="utf-8")
    assert "Barriers and matrix information along the two paths" in page
