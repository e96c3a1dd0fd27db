"""The weight-decay experiment: a tiny run end to end, its records, summary, errors, λ study.

The tiny config runs in seconds; the study's numbers are checked on hand-made stores whose
steps are known, so the slope and the verdicts have exact expected values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.compare import build_comparison, load_runs, write_comparison
from infodyn.config import ConfigError, build_config
from infodyn.data import write_idx
from infodyn.experiments._training import ShuffledBatches
from infodyn.experiments.weight_decay import WeightDecayConfig, build_weight_decay
from infodyn.experiments.weight_decay_study import study
from infodyn.rundir import RunDir
from resume_helpers import crashed_and_resumed
from study_helpers import study_run

runner = CliRunner()

TINY = [
    "--set", "steps=60",
    "--set", "data.train_size=40",
    "--set", "data.batch_size=20",
    "--set", "model.hidden_dim=24",
    "--set", "monitor.points=6",
    "--set", "monitor.linear_points=2",
    "--set", "monitor.log_every=10",
    "--set", "monitor.eval_samples=120",
    "--set", "monitor.ib_samples=60",
    "--set", "monitor.nhsic_batch=20",
    "--set", "monitor.checkpoint_every=30",
    "--set", "threads=1",
]  # fmt: skip


def _only_run(out: Path) -> RunDir:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return RunDir.open(run_dir)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    out = tmp_path_factory.mktemp("runs")
    args = ["run", "weight-decay", *TINY, "--set", "monitor.mi_estimator=kl", "--out", str(out)]
    result = runner.invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return _only_run(out)


def test_tiny_run_records_every_quantity_on_both_splits(tiny_run: RunDir) -> None:
    with tiny_run.store(readonly=True) as store:
        keys = {(m, s) for m, s, _ in store.keys()}
        arrays = store.arrays()
    for split in ("train", "test"):
        for metric in (
            "loss", "accuracy", "rnc1", "nc1", "nc1_trace", "nc2_equinorm",
            "nc2_equiangularity", "nc2_cond", "mi_zx_kl", "mi_zy_kl",
            "redundant_information_kl", "nhsic_redundant",
        ):  # fmt: skip
            assert (metric, split) in keys, (metric, split)
    # the estimator and the normalisation are in the names: no KSG value, no max-norm RNC1
    assert not {("mi_zx", "test"), ("rnc1_max", "test")} & keys
    data, _, _ = build_weight_decay(build_config(WeightDecayConfig, ["data.train_size=40"]))
    first = [a for a in arrays if a.step == 0 and a.split == "train"]
    lengths = {a.metric: a.value.shape for a in first}
    counts = data.y_train.bincount()
    assert lengths == {"margins_a": (int(counts[0]),), "margins_b": (int(counts[1]),)}
    assert {a.step for a in arrays} >= {0, 60}


def test_tiny_run_summary_headlines_and_figures(tiny_run: RunDir) -> None:
    from infodyn.runner import summarize_run

    summary = summarize_run(tiny_run)
    assert [h.key for h in summary.headlines] == [
        "fit_step", "t_generalize", "t_rnc1_half", "t_nc1_trace_half", "t_redundant_half",
        "t_nhsic_redundant_half", "final_test_accuracy",
    ]  # fmt: skip
    with tiny_run.store(readonly=True) as store:
        final = float(store.series("accuracy", "test")[1][-1])
    assert summary.headline("final_test_accuracy").value == pytest.approx(final)  # type: ignore[union-attr]
    assert (tiny_run.figures_dir / "margins.png").stat().st_size > 10_000
    assert (tiny_run.figures_dir / "information_bottleneck.png").stat().st_size > 10_000


def test_rnc1_max_is_recorded_under_its_own_name(tmp_path: Path) -> None:
    args = ["run", "weight-decay", *TINY, "--set", "steps=4", "--set", "monitor.rnc1_norm=max"]
    args += ["--set", "monitor.information_plane=false", "--out", str(tmp_path), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with _only_run(tmp_path).store(readonly=True) as store:
        metrics = {m for m, _, _ in store.keys()}
    assert "rnc1_max" in metrics and "rnc1" not in metrics and "mi_zx" not in metrics


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("monitor.class_pair=[3,12]", r"class_pair \[3,12\] is outside the 10 classes of digits"),
        ("model.init_scale=0", "init_scale multiplies every initial parameter and must be > 0"),
        ("data.name=cifar", "unknown dataset 'cifar'; the shipped ones are digits, mnist1d, "),
        ("monitor.class_pair=[2,2]", "class_pair must be two different class indices"),
    ],
)
def test_bad_configs_name_the_key_the_value_and_the_fix(override: str, message: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        build_weight_decay(build_config(WeightDecayConfig, [override]))


def test_mnist_from_idx_files_builds_the_papers_784_input_mlp(tmp_path: Path) -> None:
    """Users with the MNIST IDX files point data.root at them; nothing is downloaded."""
    g = np.random.default_rng(0)
    for stem, n in (("train", 60), ("t10k", 30)):
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte", g.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    overrides = ["data.name=mnist", f"data.root={tmp_path}", "data.train_size=20"]
    data, model, _ = build_weight_decay(build_config(WeightDecayConfig, overrides))
    assert data.x_train.shape == (20, 1, 28, 28) and data.y_train.bincount().tolist() == [2] * 10
    assert model.body[1].in_features == 784 and model.head.out_features == 10
    with pytest.raises(ValueError, match="dataset 'mnist' reads IDX files: pass root="):
        build_weight_decay(build_config(WeightDecayConfig, ["data.name=mnist"]))


def test_init_scale_multiplies_every_initial_parameter() -> None:
    config = build_config(WeightDecayConfig, ["model.init_scale=1"])
    torch.manual_seed(0)
    _, plain, _ = build_weight_decay(config)
    torch.manual_seed(0)
    _, scaled, _ = build_weight_decay(
        config.model_copy(update={"model": config.model.model_copy(update={"init_scale": 8.0})})
    )
    for a, b in zip(plain.parameters(), scaled.parameters(), strict=True):
        torch.testing.assert_close(8.0 * a, b)


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path) -> None:
    args = ["run", "weight-decay", "--set", "data.name=cifar", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "the shipped ones are digits, mnist1d, iris, wine, breast_cancer, mnist" in " ".join(
        result.output.split()
    )


def test_a_crash_then_resume_records_exactly_what_an_uninterrupted_run_does(
    tmp_path: Path,
) -> None:
    """Model, AdamW, the batch order (ShuffledBatches) and RNG come back from the checkpoint."""
    from infodyn.experiments.weight_decay import WEIGHT_DECAY

    overrides = [item for item in TINY if item != "--set"] + ["steps=24"]
    overrides += ["monitor.checkpoint_every=10", "monitor.information_plane=false"]
    config = build_config(WeightDecayConfig, overrides)

    def records(run: RunDir) -> tuple[list[tuple], list[tuple]]:
        with run.store(readonly=True) as store:
            scalars = [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]
            arrays = [(a.step, a.split, a.metric, a.value.tolist()) for a in store.arrays()]
        return scalars, arrays

    reference, crashed = crashed_and_resumed(WEIGHT_DECAY, config, tmp_path, crash_step=15)
    assert records(crashed) == records(reference)


def test_shuffled_batches_cycle_epochs_and_resume_exactly() -> None:
    batches = ShuffledBatches(7, 3, seed=5)
    epoch = torch.cat([batches.next() for _ in range(3)])
    assert sorted(epoch.tolist()) == list(range(7))  # 3 + 3 + 1: one full epoch
    state = batches.state_dict()
    ahead = [batches.next().tolist() for _ in range(5)]
    resumed = ShuffledBatches(7, 3, seed=0)
    resumed.load_state_dict(state)
    assert [resumed.next().tolist() for _ in range(5)] == ahead


def test_mse_objective_is_summed_over_batch_and_outputs() -> None:
    from infodyn.experiments.weight_decay import _objective

    logits = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([2, 0])
    # (1² + 0² + 1²) + (1² + 0² + 0²) = 3
    assert float(_objective(logits, labels, "mse")) == pytest.approx(3.0)
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert float(_objective(logits, labels, "cross_entropy")) == pytest.approx(float(ce))


# -- the λ study on hand-made runs (tests/study_helpers.py) --------------------------------------


def test_study_fits_slope_minus_one_and_judges_the_claims(tmp_path: Path) -> None:
    roots = [study_run(tmp_path, lam, seed).root for lam in (0.02, 0.05, 0.1) for seed in (0, 1)]
    comparison = build_comparison(load_runs(roots))
    s = study(comparison)
    assert s.slope is not None and s.slope.slope == pytest.approx(-1.0, abs=1e-9)
    assert [g.stats["t_generalize"].mean for g in s.groups] == [5000, 2000, 1000]
    assert [round(g.rnc1_ratio.mean, 3) for g in s.groups] == [0.8, 0.8, 0.8]  # type: ignore[arg-type]
    assert [c.verdict for c in s.claims] == ["reproduced"] * 3
    out = write_comparison(comparison, tmp_path / "cmp")
    record = json.loads(out.record.read_text(encoding="utf-8"))
    assert record["tables"]["delays"]["slope"]["slope"] == pytest.approx(-1.0, abs=1e-9)
    assert [c["verdict"] for c in record["tables"]["claims"]["claims"]] == ["reproduced"] * 3
    assert record["experiment_figures"] == [
        "figures/fig3_accuracy_rnc1_nc2.png",
        "figures/fig4_redundant_information.png",
        "figures/fig2_margins.png",
    ]
    page = out.page.read_text(encoding="utf-8")
    assert "What reproduces" in page and "Delay to generalisation per weight decay" in page
    assert "slope of log t_generalize on log λ −1.00 ± 0.00 over 6 runs" in page


def test_study_says_when_a_claim_does_not_reproduce(tmp_path: Path) -> None:
    roots = [study_run(tmp_path, lam, 0, slower_with_decay=True).root for lam in (0.2, 0.5, 1.0)]
    s = study(build_comparison(load_runs(roots)))
    assert s.slope is not None and s.slope.slope == pytest.approx(1.0, abs=1e-9)
    assert s.claims[0].verdict == "not reproduced"
    assert "λ=0.2: 2,000" in s.claims[0].evidence


def test_tiny_sweep_and_compare_end_to_end(tmp_path: Path) -> None:
    """The README's commands on a tiny config: the study's part is written even when the
    runs are too short to generalise (claims then say "not measured")."""
    sweep = tmp_path / "sweep"
    pairs = zip(TINY[::2], TINY[1::2], strict=True)
    sets = [a for flag, value in pairs if value != "threads=1" for a in (flag, value)]
    args = ["sweep", "weight-decay", "--grid", "optim.weight_decay=0.01,0.1", "--seeds", "1"]
    args += [*sets, "--workers", "1", "--threads", "1", "--out", str(sweep)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", str(sweep), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert record["experiment_error"] is None
    assert set(record["tables"]) == {"claims", "delays"}
    assert "slope" in record["tables"]["delays"]
    assert "figures/fig2_margins.png" in record["experiment_figures"]
