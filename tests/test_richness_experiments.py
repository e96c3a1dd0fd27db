"""lazy-rich and richness-study: tiny runs end to end, their records, errors, resume.

Each tiny config runs in a few seconds; the claims' verdicts are tested on settings with known
statistics in ``test_richness_claims.py``, the example in ``test_viz_richness.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.config import ConfigError, build_config
from infodyn.experiments._richness import check_finite_loss
from infodyn.experiments.lazy_rich import LAZY_RICH, LazyRichConfig, label_encoded
from infodyn.experiments.richness_study import RICHNESS_STUDY, RichnessStudyConfig
from infodyn.functional.richness import d_lr
from infodyn.loop import RunLoop
from infodyn.rundir import RunDir
from resume_helpers import crashed_and_resumed

runner = CliRunner()

MONITOR = [
    "monitor.points=4", "monitor.linear_points=2", "monitor.log_every=10",
    "monitor.eval_samples=120", "monitor.checkpoint_every=20", "threads=1",
]  # fmt: skip
LAZY_TINY = ["steps=40", "model.width=24", *MONITOR]
STUDY_TINY = [
    "data.name=digits", "epochs=2", "model.channels=[4,8]", "model.hidden=16",
    "optim.batch_size=128", *MONITOR,
]  # fmt: skip


def _sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def _only_run(out: Path) -> RunDir:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return RunDir.open(run_dir)


@pytest.fixture(scope="module")
def lazy_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    out = tmp_path_factory.mktemp("lazy")
    args = ["run", "lazy-rich", *_sets([*LAZY_TINY, "train=last_layer"]), "--out", str(out)]
    result = runner.invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return _only_run(out)


def test_lazy_rich_records_d_lr_curves_baselines_and_accuracy_on_both_sets(
    lazy_run: RunDir,
) -> None:
    with lazy_run.store(readonly=True) as store:
        keys = {(m, s) for m, s, _ in store.keys()}
        arrays = {(a.metric, a.split) for a in store.arrays()}
        s_init = store.series("s_init", "train")[1]
        steps = store.series("d_lr", "train")[0]
    for split in ("train", "test"):
        assert {("d_lr", split), ("accuracy", split), ("loss", split)} <= keys
        for curve in ("quality_cumulative", "utilization_cumulative", "relative_norms"):
            assert (curve, split) in arrays
    assert {("s_init", "train"), ("param_norm", "train"), ("param_norm_ratio", "train")} <= keys
    assert steps[0] == 0 and steps[-1] == 40
    # only the head trains: the features never move from their initial values
    assert s_init == pytest.approx(1.0, abs=1e-9)


def test_lazy_rich_summary_and_figures(lazy_run: RunDir) -> None:
    from infodyn.runner import summarize_run

    summary = summarize_run(lazy_run)
    assert [h.key for h in summary.headlines] == [
        "final_d_lr", "final_d_lr_test", "final_train_accuracy", "final_test_accuracy",
        "final_s_init", "final_param_norm_ratio",
    ]  # fmt: skip
    assert all(h.value is not None for h in summary.headlines)
    with lazy_run.store(readonly=True) as store:
        final = float(store.series("d_lr", "test")[1][-1])
    assert summary.headline("final_d_lr_test").value == pytest.approx(final)  # type: ignore[union-attr]
    assert (lazy_run.figures_dir / "richness.png").stat().st_size > 10_000


def test_label_encoding_writes_true_labels_in_training_and_random_ones_at_test() -> None:
    from infodyn.data.datasets import load_dataset

    data = load_dataset("digits", seed=0, test_fraction=0.3)
    encoded = label_encoded(data, seed=0)
    head = encoded.x_train.flatten(1)[:, :10]
    assert torch.equal(head, torch.nn.functional.one_hot(data.y_train, 10).float())
    test_head = encoded.x_test.flatten(1)[:, :10]
    assert torch.equal(test_head.sum(1), torch.ones(len(data.y_test)))
    agree = float((test_head.argmax(1) == data.y_test).float().mean())
    assert agree < 0.2  # random labels: ~1/10 agree by chance
    # the rest of the image is untouched
    assert torch.equal(encoded.x_test.flatten(1)[:, 10:], data.x_test.flatten(1)[:, 10:])


def test_full_and_last_layer_start_from_the_same_network() -> None:
    models = []
    for train in ("full", "last_layer"):
        torch.manual_seed(3)
        config = build_config(LazyRichConfig, [*LAZY_TINY, f"train={train}", "seed=3"])
        models.append(LAZY_RICH.build(config, torch.device("cpu")))
    full, lazy = (m.model.state_dict() for m in models)
    assert all(torch.equal(full[k], lazy[k]) for k in full)
    trained = {n for n, p in models[1].model.named_parameters() if p.requires_grad}
    assert trained == {"head.weight", "head.bias"}


@pytest.mark.parametrize(
    ("config_type", "override", "message"),
    [
        (LazyRichConfig, "optim.weight_decay=-0.1", "weight_decay λ must be >= 0"),
        (RichnessStudyConfig, "optim.weight_decay=-1e-4", "weight_decay λ must be >= 0"),
        (LazyRichConfig, "data.name=iris", "lazy-rich runs on images"),
        (RichnessStudyConfig, "data.name=cifar", "richness-study runs its CNN on mnist1d, digits"),
        (RichnessStudyConfig, "steps=7", "steps is derived from epochs"),
        (LazyRichConfig, "train=middle", "train"),
        (RichnessStudyConfig, "optim.lr=0", "lr"),
        (LazyRichConfig, "monitor.span=both", "span"),
    ],
)
def test_bad_configs_are_clear_errors(config_type: type, override: str, message: str) -> None:
    base = STUDY_TINY if config_type is RichnessStudyConfig else LAZY_TINY
    with pytest.raises((ConfigError, ValueError), match=message):
        build_config(config_type, [*base, override])


def test_too_few_measurement_samples_for_the_feature_width_is_an_error() -> None:
    config = build_config(LazyRichConfig, [*LAZY_TINY, "model.width=100"])  # 120 < 2·100
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="D_LR's curves need at least 2p samples for p = 100"):
        LAZY_RICH.build(config, torch.device("cpu"))


def test_divergence_and_a_dead_network_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"diverged at step 7: .* optim.lr=0.5 is past"):
        check_finite_loss(torch.tensor(float("nan")), 7, 0.5)
    config = build_config(RichnessStudyConfig, [*STUDY_TINY, "optim.lr=1000"])
    run = RunDir.create(tmp_path / "dead", config.model_dump(mode="json"))
    with pytest.raises(RuntimeError, match="past this model's stability limit"):
        RunLoop(RICHNESS_STUDY, config, run).run()


@pytest.fixture(scope="module")
def study_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, RichnessStudyConfig]:
    config = build_config(RichnessStudyConfig, [*STUDY_TINY, "model.batchnorm=true"])
    run = RunDir.create(tmp_path_factory.mktemp("study") / "bn", config.model_dump(mode="json"))
    RunLoop(RICHNESS_STUDY, config, run).run()
    return run, config


def test_richness_study_measures_with_batchnorm_in_eval_mode(
    study_run: tuple[RunDir, RichnessStudyConfig],
) -> None:
    """The stored final D_LR is the one of the final model's eval-mode features (running
    statistics) on the fixed training subset, not of batch statistics."""
    from infodyn.checkpoint import latest_checkpoint

    run, config = study_run
    assert config.steps == 2 * config.steps_per_epoch == 2 * 11  # ⌈1,347 digits / 128⌉ = 11
    torch.manual_seed(config.seed)
    setup = RICHNESS_STUDY.build(config, torch.device("cpu"))
    step, state = latest_checkpoint(run)  # type: ignore[misc]
    setup.model.load_state_dict(state["model"])
    assert setup.probe_x is not None
    setup.model.eval()
    with torch.no_grad():
        phi = setup.model.features(setup.probe_x)  # type: ignore[operator]
        eval_value = float(d_lr(phi, setup.model.head(phi)))  # type: ignore[operator]
        setup.model.train()
        phi = setup.model.features(setup.probe_x)  # type: ignore[operator]
        batch_value = float(d_lr(phi, setup.model.head(phi)))  # type: ignore[operator]
    with run.store(readonly=True) as store:
        stored = float(store.series("d_lr", "train")[1][-1])
    assert step == config.steps
    assert stored == pytest.approx(eval_value, abs=1e-9)
    assert abs(stored - batch_value) > 1e-6


def test_a_crashed_run_resumes_to_identical_records(tmp_path: Path) -> None:
    """Φ_0 for S_init is rebuilt from the seed on resume; the epoch order comes back."""
    config = build_config(RichnessStudyConfig, [*STUDY_TINY, "monitor.checkpoint_every=5"])

    def records(run: RunDir) -> list[tuple]:
        with run.store(readonly=True) as store:
            return [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]

    reference, crashed = crashed_and_resumed(RICHNESS_STUDY, config, tmp_path, crash_step=12)
    assert records(crashed) == records(reference)


def test_tiny_sweep_and_compare_write_the_richness_tables_and_figures(tmp_path: Path) -> None:
    """The README's commands on a tiny config (lazy-rich: the pair of settings)."""
    sweep = tmp_path / "sweep"
    sets = _sets([o for o in LAZY_TINY if o != "threads=1"])
    args = ["sweep", "lazy-rich", "--grid", "train=full,last_layer", "--seeds", "1", *sets]
    args += ["--workers", "1", "--threads", "1", "--out", str(sweep)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", str(sweep), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert record["experiment_error"] is None
    assert set(record["tables"]) == {"claims", "d_lr"}
    (claim,) = record["tables"]["claims"]["claims"]
    assert claim["key"] == "rich_not_better" and "one seed: no spread" in claim["evidence"]
    rows = record["tables"]["d_lr"]["settings"]
    assert [r["label"] for r in rows] == ["train=full", "train=last_layer"]
    assert all(r["final_d_lr"]["n"] == 1 and r["final_s_init"]["n"] == 1 for r in rows)
    assert record["experiment_figures"] == [
        "figures/richness_panels_train.png",
        "figures/richness_panels_test.png",
        "figures/richness_values.png",
    ]


def test_study_comparison_on_hand_made_runs(tmp_path: Path) -> None:
    """BatchNorm × learning rate: the table, the claims and a panel row per BatchNorm value."""
    from infodyn.compare import build_comparison, load_runs, write_comparison
    from study_helpers import richness_run

    roots = [
        richness_run(tmp_path, bn, lr, seed).root
        for bn in (True, False)
        for lr in (0.01, 0.03, 0.1)
        for seed in (0, 1)
    ]
    comparison = build_comparison(load_runs(roots))
    out = write_comparison(comparison, tmp_path / "cmp")
    record = json.loads(out.record.read_text(encoding="utf-8"))
    verdicts = {c["key"]: c["verdict"] for c in record["tables"]["claims"]["claims"]}
    assert verdicts == {"batchnorm": "reproduced", "learning_rate": "reproduced"}
    first = record["tables"]["d_lr"]["settings"][0]
    assert first["label"] == "batchnorm=false, lr=0.01" and first["runs"] == 2
    assert first["final_d_lr"]["mean"] == pytest.approx(0.5)
    page = out.page.read_text(encoding="utf-8")
    assert "What reproduces" in page and "D_LR per setting" in page
