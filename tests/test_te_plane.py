"""``infodyn run te-plane`` end to end on tiny configs (seconds), its resume and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.config import ConfigError, build_config
from infodyn.experiments import get_experiment
from infodyn.experiments.te_plane import TEPlaneConfig
from infodyn.loop import RunLoop
from infodyn.rundir import RunDir
from infodyn.runner import execute
from resume_helpers import crashed_and_resumed

TINY = [
    "data.name=iris",
    "epochs=3",
    "optim.batch_size=32",
    "monitor.null_surrogates=20",
    "monitor.segments=2",
]
PAIRS = {"h1->h2", "h2->h3", "h3->softmax"}


def _config(*overrides: str) -> TEPlaneConfig:
    return build_config(TEPlaneConfig, [*TINY, *overrides])


def _fresh(tmp_path: Path, name: str, config: TEPlaneConfig) -> RunDir:
    return RunDir.create(tmp_path / name, config.model_dump(mode="json"))


def _records(run: RunDir) -> tuple[list[tuple], list[tuple]]:
    with run.store(readonly=True) as store:
        scalars = [(r.step, r.split, r.metric, r.layer, r.mode, r.value) for r in store.scalars()]
        arrays = [(r.step, r.split, r.metric, r.layer, r.mode, r.value) for r in store.arrays()]
    return scalars, arrays


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    config = _config()
    run = _fresh(tmp_path_factory.mktemp("te"), "run", config)
    execute(run, config)
    return run


def test_steps_follow_from_epochs_and_the_training_split() -> None:
    config = _config()
    assert config.steps_per_epoch == 4  # iris: 114 training samples, batches of 32
    assert config.steps == 12 and config.model_kind == "mlp"
    assert build_config(TEPlaneConfig, ["data.name=digits"]).model_kind == "cnn2d"
    assert build_config(TEPlaneConfig, ["data.name=mnist1d"]).model_kind == "cnn1d"


def test_records_per_epoch_live_for_both_delays(tiny_run: RunDir) -> None:
    with tiny_run.store(readonly=True) as store:
        modes = store.modes()
        for delay in (1, 0):
            for pair in PAIRS:
                for metric in ("te_mean", "te_excess", "te_sig_fraction"):
                    steps, values = store.series(f"{metric}_lag{delay}", "train", pair)
                    assert steps.tolist() == [4, 8, 12]  # one record per epoch
                    assert modes[(f"{metric}_lag{delay}", "train", pair)] == "live"
                    if metric == "te_sig_fraction":
                        assert ((values >= 0) & (values <= 1)).all()
                    elif metric == "te_mean":
                        assert ((values >= 0) & (values <= 1)).all()
            # the plane is drawn from the pair means; te_in/te_out would only duplicate them
            assert not any(
                m.startswith("te_in") or m.startswith("te_out") for m, *_ in store.keys()
            )
            null = store.arrays(metric=f"te_null_lag{delay}", layer="h1->h2")
            assert [a.step for a in null] == [4, 8, 12] and null[0].value.shape == (20,)
            window = store.arrays(metric=f"te_prefix_mean_lag{delay}", layer="h3->softmax")
            assert window[0].value.shape == (2,)
        # loss and accuracy: train from the epoch's batches (live), test by an evaluation pass
        assert store.series("loss", "train")[0].tolist() == [4, 8, 12]
        assert modes[("loss", "train", "")] == "live"
        assert store.series("accuracy", "test")[0].tolist() == [0, 4, 8, 12]
        assert modes[("accuracy", "test", "")] == "eval"
        assert not any(m.endswith("_lag2") for m, _, _ in store.keys())


def test_summary_headlines_and_figures(tiny_run: RunDir) -> None:
    spec = get_experiment("te-plane")
    config = build_config(TEPlaneConfig, base=tiny_run.config())
    with tiny_run.store(readonly=True) as store:
        summary = spec.summarize(store, config)
    keys = {h.key for h in summary.headlines}
    assert {"rho_te_epoch_lag1", "rho_te_loss_lag1", "sig_fraction_lag0"} <= keys
    for h in summary.headlines:
        assert h.value is None or np.isfinite(h.value)
        if h.key.startswith("rho_") and h.value is not None:
            assert -1.0 <= h.value <= 1.0
    names = [f.filename for f in summary.figures]
    assert names == ["te_epochs.png", "te_plane.png", "te_significance.png", "te_within_epoch.png"]
    assert "TE decreases with training" in summary.figures[0].caption
    for name in [*names, "training.png"]:
        assert (tiny_run.figures_dir / name).stat().st_size > 10_000


def test_a_run_crashed_mid_epoch_resumes_to_identical_records(tmp_path: Path) -> None:
    config = _config("monitor.checkpoint_every=3")  # steps 3, 6, 9: inside epochs 1, 2, 3
    experiment = get_experiment("te-plane")
    # crash after step 7: checkpoint at 6, two steps into epoch 2; the live TE holds steps 5-6
    reference, crashed = crashed_and_resumed(experiment, config, tmp_path, crash_step=7)
    got, want = _records(crashed), _records(reference)
    assert got[0] == want[0]  # every scalar, bit for bit
    assert [a[:5] for a in got[1]] == [a[:5] for a in want[1]]
    assert all(np.array_equal(a[5], b[5]) for a, b in zip(got[1], want[1], strict=True))


def test_the_cnn_path_on_digits(tmp_path: Path) -> None:
    config = build_config(
        TEPlaneConfig,
        [
            "data.name=digits", "data.train_size=64", "epochs=2", "optim.batch_size=16",
            "monitor.null_surrogates=20", "monitor.segments=0", "monitor.delays=[1]",
            "model.channels=[4,8]", "model.hidden=16",
        ],
    )  # fmt: skip
    run = _fresh(tmp_path, "digits", config)
    RunLoop(get_experiment("te-plane"), config, run).run()
    with run.store(readonly=True) as store:
        te = store.arrays(metric="te_lag1", layer="h1->h2")
        assert [a.step for a in te] == [4, 8] and te[0].value.shape == (4, 8)  # channels
        assert not any(m.endswith("_lag0") for m, _, _ in store.keys())


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("data.name=cifar10", "unknown dataset 'cifar10'; te-plane runs on the shipped ones: "
         "iris, wine, breast_cancer, digits, mnist1d"),
        ("steps=7", r"steps is derived from epochs: 3 epochs × 4 steps per epoch = 12"),
        ("model.kind=cnn2d", "model.kind=cnn2d does not fit dataset 'iris'"),
        ("monitor.null_surrogates=5", "cannot give p < 0.05"),
        ("monitor.delays=[1,1]", "delays must be distinct integers"),
        ("monitor.q=1.5", "monitor.q"),
    ],
)  # fmt: skip
def test_bad_config_is_a_clear_error(override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _config(override)
    with pytest.raises(ConfigError, match="segments need the surrogate test"):
        build_config(TEPlaneConfig, ["monitor.null_surrogates=0", "monitor.segments=4"])


def test_cli_runs_te_plane_and_rejects_an_unknown_dataset(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [arg for item in TINY for arg in ("--set", item)]
    result = runner.invoke(app, ["run", "te-plane", *args, "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "ρ(TE, epoch), lag 1" in result.output
    bad = runner.invoke(
        app, ["run", "te-plane", "--set", "data.name=mnist", "--out", str(tmp_path)]
    )
    assert bad.exit_code == 2
    assert "shipped ones: iris, wine" in " ".join(bad.output.split())
