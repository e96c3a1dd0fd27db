"""The info-loss experiment: tiny runs end to end, FixMatch's pieces by hand, the study's table.

The pseudo-label mask, the pseudo-labels themselves and the consistency loss are checked
against hand computations; the study's seed-paired gains on hand-made runs with known
accuracies; bad input is refused with messages that say what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.compare import build_comparison, load_runs, write_comparison
from infodyn.config import ConfigError, build_config
from infodyn.experiments.info_loss import INFO_LOSS, InfoLossConfig
from infodyn.experiments.info_loss_data import CyclicBatches, StepMeans, labeled_split
from infodyn.experiments.info_loss_fixmatch import (
    confidence_mask,
    info_term,
    pseudo_labels,
    unlabeled_loss,
)
from infodyn.losses import MatrixInformationLoss
from infodyn.rundir import RunDir
from infodyn.store import Scalar
from resume_helpers import crashed_and_resumed

runner = CliRunner()

TINY = [
    "steps=16",
    "model.channels=[4,8]",
    "model.hidden=16",
    "optim.labeled_batch=8",
    "fixmatch.unlabeled_ratio=2",
    "fixmatch.threshold=0.3",
    "monitor.eval_every=8",
    "monitor.mi_samples=60",
    "monitor.checkpoint_every=8",
    "info.lambda_mir=0.5",
    "info.lambda_hdr=0.5",
]


def _cli_sets(overrides: list[str]) -> list[str]:
    return [a for item in overrides for a in ("--set", item)]


@pytest.fixture(scope="module", params=["supervised", "fixmatch"])
def tiny_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    out = tmp_path_factory.mktemp(request.param)
    sets = _cli_sets([*TINY, f"method={request.param}"])
    result = runner.invoke(app, ["run", "info-loss", *sets, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return RunDir.open(run_dir)


def test_tiny_run_records_accuracy_matrix_information_and_the_objective(tiny_run: RunDir) -> None:
    method = tiny_run.config()["method"]
    with tiny_run.store(readonly=True) as store:
        keys = {(m, s) for m, s, _ in store.keys()}
        modes = store.modes()
        steps = store.series("accuracy", "test")[0].tolist()
    assert steps == [0, 8, 16]
    for split in ("train", "unlabeled", "test"):
        assert {("loss", split), ("accuracy", split)} <= keys
    assert {("mir", "test"), ("hdr", "test"), ("entropy_features", "test")} <= keys
    live = {"loss_supervised", "info_term", "info_applied", "info_collapsed"}
    if method == "fixmatch":
        live |= {"loss_unlabeled", "mask_rate"}
    assert {(m, "train") for m in live} <= keys
    assert modes[("loss_supervised", "train", "")] == "live"
    assert modes[("accuracy", "test", "")] == "eval"


def test_tiny_run_headlines_and_figures(tiny_run: RunDir) -> None:
    from infodyn.runner import summarize_run

    summary = summarize_run(tiny_run)
    final = summary.headline("final_test_accuracy")
    assert final is not None and final.value is not None and 0 <= final.value <= 1
    for name in ("training.png", "matrix_information.png", "objective.png"):
        assert (tiny_run.figures_dir / name).stat().st_size > 10_000


def test_a_crash_then_resume_records_exactly_what_an_uninterrupted_run_does(
    tmp_path: Path,
) -> None:
    """Model, optimiser, cosine schedule, both batch streams, augmentation generator and the
    interval meter come back from the checkpoint."""
    config = build_config(
        InfoLossConfig, [*TINY, "steps=12", "monitor.eval_every=4", "monitor.checkpoint_every=4"]
    )

    def records(run: RunDir) -> list[tuple]:
        with run.store(readonly=True) as store:
            return [(r.step, r.split, r.metric, r.layer, r.value) for r in store.scalars()]

    reference, crashed = crashed_and_resumed(INFO_LOSS, config, tmp_path, crash_step=7)
    assert records(crashed) == records(reference)


# -- FixMatch's pieces against hand computations ----------------------------------------------


def test_the_mask_keeps_confidence_at_or_above_the_threshold() -> None:
    p = torch.tensor(
        [[0.95, 0.05, 0.0], [0.9499999, 0.0500001, 0.0], [0.02, 0.01, 0.97], [0.4, 0.3, 0.3]],
        dtype=torch.float64,
    )
    confidence, labels, mask = confidence_mask(p, 0.95)
    assert mask.tolist() == [True, False, True, False]  # exactly τ is kept (≥, as FixMatch)
    assert labels.tolist() == [0, 0, 2, 0]
    assert confidence.tolist() == [0.95, 0.9499999, 0.97, 0.4]
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\]"):
        confidence_mask(p, 0.0)


def test_pseudo_labels_come_from_the_weak_views_softmax_and_carry_no_gradient() -> None:
    weak = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.1, 0.0], [-1.0, 0.0, 5.0]], requires_grad=True)
    out = pseudo_labels(weak, 0.95)
    by_hand = torch.exp(weak.detach()) / torch.exp(weak.detach()).sum(dim=1, keepdim=True)
    # softmax: row 0 max 0.9094 (< 0.95), row 1 0.3559, row 2 0.9966
    torch.testing.assert_close(out.confidence, by_hand.max(dim=1).values)
    assert out.labels.tolist() == [0, 1, 2] and out.mask.tolist() == [False, False, True]
    assert not out.labels.requires_grad and not out.confidence.requires_grad


def test_the_consistency_loss_is_the_masked_cross_entropy_over_all_unlabeled_samples() -> None:
    weak = torch.tensor([[6.0, 0.0], [0.0, 0.2], [0.0, 7.0], [5.0, 0.0]])
    strong = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [2.0, 0.0]], requires_grad=True)
    pseudo = pseudo_labels(weak, 0.95)
    assert pseudo.mask.tolist() == [True, False, True, True]
    log_p = torch.log_softmax(strong.detach(), dim=1)
    by_hand = -(log_p[0, 0] + log_p[2, 1] + log_p[3, 0]) / 4  # divided by all 4, not by 3
    loss = unlabeled_loss(strong, pseudo)
    torch.testing.assert_close(loss.detach(), by_hand)
    loss.backward()
    assert strong.grad is not None and torch.equal(strong.grad[1], torch.zeros(2))


def test_the_step_takes_pseudo_labels_from_the_weak_views(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay the step's draws by hand: the logits pseudo_labels sees are the network's on the
    weak views of the unlabeled batch, not on the strong ones."""
    import copy

    from infodyn.experiments import info_loss as module
    from infodyn.loop import seed_everything

    config = build_config(InfoLossConfig, [*TINY, "method=fixmatch"])
    seed_everything(config.seed)
    setup = INFO_LOSS.build(config, torch.device("cpu"))
    assert setup.data is not None and setup.augmenter is not None
    assert setup.labeled_batches is not None and setup.unlabeled_batches is not None
    assert setup.labeled is not None and setup.unlabeled is not None
    before = copy.deepcopy(setup.model)
    aug = copy.deepcopy(setup.augmenter)
    labeled_rows = setup.labeled[copy.deepcopy(setup.labeled_batches).next()]
    pool = setup.unlabeled[copy.deepcopy(setup.unlabeled_batches).next()]
    seen: list[torch.Tensor] = []
    real = module.pseudo_labels
    monkeypatch.setattr(
        module, "pseudo_labels", lambda logits, t: seen.append(logits) or real(logits, t)
    )
    INFO_LOSS.train_step(setup, 1)
    x = setup.data.x_train
    labeled = aug.weak(x[labeled_rows])  # the same draws in the same order: labeled, weak, strong
    weak, strong = aug.weak(x[pool]), aug.strong(x[pool])
    before.train()
    with torch.no_grad():
        by_hand = before(torch.cat([labeled, weak, strong]))  # one batch, as the step
    n_l, n_u = labeled_rows.numel(), pool.numel()
    (logits,) = seen
    torch.testing.assert_close(logits.detach(), by_hand[n_l : n_l + n_u], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(logits.detach(), by_hand[n_l + n_u :])


def test_the_info_term_uses_the_confident_rows_with_their_pseudo_labels() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, 6, generator=g, requires_grad=True)
    head = torch.randn(3, 6, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    mask = torch.tensor([True, True, False, True, True, True, False, False, True, True])
    reg = MatrixInformationLoss(lambda_mir=0.4, lambda_hdr=0.2)
    term, applied, _ = info_term(reg, z, head, labels, mask)
    assert applied
    torch.testing.assert_close(term, reg(z[mask], head, labels[mask]))
    term.backward()
    assert z.grad is not None and torch.equal(z.grad[~mask], torch.zeros(3, 6))


def test_the_info_term_is_skipped_when_mir_is_undefined_and_drops_zero_rows() -> None:
    reg = MatrixInformationLoss(lambda_mir=1.0, lambda_hdr=1.0)
    z, head = torch.eye(4), torch.eye(4)
    one_class = torch.tensor([True, True, False, False])
    assert info_term(reg, z, head, torch.tensor([1, 1, 2, 3]), one_class) == (
        torch.tensor(0.0),
        False,
        False,
    )
    assert info_term(reg, z, head, torch.arange(4), torch.zeros(4, dtype=torch.bool))[1] is False
    off = MatrixInformationLoss()
    assert info_term(off, z, head, torch.arange(4))[1] is False
    dead = z.clone()
    dead[0] = 0.0  # a sample whose every ReLU is off
    term, applied, _ = info_term(reg, dead, head, torch.arange(4))
    assert applied
    torch.testing.assert_close(term, reg(dead[1:], head, torch.arange(1, 4)))


def test_the_info_term_is_skipped_with_a_warning_when_the_features_collapsed() -> None:
    # All but one ReLU unit dead: every row is a multiple of e_0, the Gram is rank-one.
    z = torch.zeros(6, 5)
    z[:, 0] = torch.arange(1.0, 7.0)
    z.requires_grad_(True)
    head, labels = torch.eye(3, 5), torch.arange(6) % 3
    with pytest.warns(RuntimeWarning, match="features of the batch are all parallel"):
        term, applied, collapsed = info_term(
            MatrixInformationLoss(lambda_mir=0.3, lambda_hdr=0.3), z, head, labels
        )
    assert (float(term), applied, collapsed) == (0.0, False, True)
    # HDR alone is defined there (= 1): applied.
    hdr_only = info_term(MatrixInformationLoss(lambda_hdr=0.3), z, head, labels)
    assert hdr_only.applied and not hdr_only.collapsed
    assert abs(float(hdr_only.value.detach()) - 0.3) < 1e-6


# -- data, batches, meter ---------------------------------------------------------------------


def test_the_labeled_split_takes_k_per_class_seeded_and_disjoint() -> None:
    y = torch.arange(60) % 3
    labeled, unlabeled = labeled_split(y, 4, seed=7)
    assert y[labeled].bincount().tolist() == [4, 4, 4]
    assert set(labeled.tolist()).isdisjoint(unlabeled.tolist())
    assert sorted(labeled.tolist() + unlabeled.tolist()) == list(range(60))
    assert torch.equal(labeled_split(y, 4, seed=7)[0], labeled)
    assert not torch.equal(labeled_split(y, 4, seed=8)[0], labeled)
    with pytest.raises(ValueError, match="labels_per_class=21 is larger than class 0"):
        labeled_split(y, 21, seed=0)


def test_cyclic_batches_are_always_full_and_resume_exactly() -> None:
    batches = CyclicBatches(5, 4, seed=0)
    first = [batches.next() for _ in range(5)]  # 20 indices = 4 full permutations of 5
    assert all(len(b) == 4 for b in first)
    assert sorted(torch.cat(first).tolist()) == sorted(list(range(5)) * 4)
    state = batches.state_dict()
    ahead = [batches.next().tolist() for _ in range(3)]
    resumed = CyclicBatches(5, 4, seed=99)
    resumed.load_state_dict(state)
    assert [resumed.next().tolist() for _ in range(3)] == ahead


def test_step_means_average_each_value_over_the_steps_that_had_it() -> None:
    meter = StepMeans(("a", "b"))
    meter.add({"a": 1.0})
    meter.add({"a": 2.0, "b": 5.0})
    state = meter.state_dict()
    assert meter.pop() == {"a": 1.5, "b": 5.0}
    assert meter.pop() == {}
    meter.load_state_dict(state)
    assert meter.pop() == {"a": 1.5, "b": 5.0}


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("info.lambda_mir=-0.1", r"info.lambda_mir.*must be a finite number >= 0, got -0.1"),
        ("info.lambda_hdr=-1", r"the sign is built in"),
        ("data.labels_per_class=200", r"labels_per_class=200 is larger than a class: class \d+ of"),
        ("data.labels_per_class=0", "labels_per_class"),
        ("fixmatch.threshold=1.5", "fixmatch.threshold"),
        ("method=mixmatch", "method"),
        ("data.name=iris", "info-loss trains a small CNN on digits, mnist1d"),
    ],
)
def test_bad_configs_are_refused_with_the_key_and_the_fix(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(InfoLossConfig, [override])


def test_the_label_budget_message_names_the_smallest_class() -> None:
    from infodyn.experiments.info_loss_data import class_counts

    counts = class_counts("digits", 0, 0.25)
    smallest = min(counts)
    with pytest.raises(ConfigError, match=f"has {smallest} samples; use at most {smallest}"):
        build_config(InfoLossConfig, [f"data.labels_per_class={smallest + 1}"])
    build_config(InfoLossConfig, [f"data.labels_per_class={smallest}"])  # the largest that fits


def test_the_cli_refuses_a_negative_weight_without_a_traceback(tmp_path: Path) -> None:
    args = ["run", "info-loss", "--set", "info.lambda_mir=-1", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "the sign is built in" in " ".join(result.output.split())
    assert "Traceback" not in result.output


# -- the study on hand-made runs --------------------------------------------------------------


def _study_run(root: Path, method: str, lam: float, budget: int, seed: int, acc: float) -> Path:
    overrides = [f"method={method}", f"info.lambda_mir={lam}", f"info.lambda_hdr={lam}"]
    overrides += [f"data.labels_per_class={budget}", f"seed={seed}", "steps=100"]
    config = build_config(InfoLossConfig, overrides)
    run = RunDir.create(root / f"{method}-{lam}-{budget}-{seed}", config.model_dump(mode="json"))
    with run.store() as store:
        store.write([Scalar(s, "test", "accuracy", acc if s == 100 else 0.1) for s in (0, 50, 100)])
    return run.root


def test_gains_are_paired_by_seed_and_judged(tmp_path: Path) -> None:
    # seed s shifts every arm by 0.05·s: a spread across seeds that pairing removes
    base = {
        ("supervised", 4): 0.70,
        ("fixmatch", 4): 0.85,
        ("supervised", 10): 0.90,
        ("fixmatch", 10): 0.95,
    }
    gain = {
        ("supervised", 4): -0.02,
        ("fixmatch", 4): 0.03,
        ("supervised", 10): 0.0,
        ("fixmatch", 10): 0.01,
    }
    noise = [0.0, 0.001, -0.001]
    roots = []
    for (method, budget), acc in base.items():
        for seed in range(3):
            shift = 0.05 * seed
            roots.append(_study_run(tmp_path, method, 0.0, budget, seed, acc + shift))
            on = acc + shift + gain[(method, budget)] + noise[seed]
            roots.append(_study_run(tmp_path, method, 0.3, budget, seed, on))
    out = write_comparison(build_comparison(load_runs(roots)), tmp_path / "cmp")
    record = json.loads(out.record.read_text(encoding="utf-8"))
    assert record["experiment_error"] is None
    arms = {
        (a["method"], a["labels_per_class"], a["lambda_mir"]): a
        for a in record["tables"]["info_loss_accuracy"]["arms"]
    }
    fm4 = arms[("fixmatch", 4, 0.3)]
    assert fm4["test_accuracy"]["mean"] == pytest.approx(0.85 + 0.05 + 0.03)
    assert fm4["test_accuracy"]["std"] == pytest.approx(0.05, abs=2e-3)  # the seed spread
    assert fm4["gain_vs_same_method"]["mean"] == pytest.approx(0.03)
    assert fm4["gain_vs_same_method"]["std"] == pytest.approx(0.001)  # pairing removed it
    assert fm4["gain_vs_same_method"]["verdict"] == "gain"
    assert fm4["gain_vs_supervised_ce"]["mean"] == pytest.approx(0.85 + 0.03 - 0.70)
    assert arms[("supervised", 4, 0.3)]["gain_vs_same_method"]["verdict"] == "loss"
    assert arms[("supervised", 10, 0.3)]["gain_vs_same_method"]["verdict"] == "no detectable change"
    assert arms[("fixmatch", 4, 0.0)]["gain_vs_supervised_ce"]["mean"] == pytest.approx(0.15)
    rows = record["tables"]["info_loss_verdicts"]["rows"]
    fewest = [r for r in rows if r[0] == "fewest / most labels" and r[1].startswith("FixMatch")]
    assert fewest[0][-1] == "largest gain at fewest labels: yes"
    assert record["experiment_figures"] == ["figures/info_loss_arms.png"]
    page = out.page.read_text(encoding="utf-8")
    assert "Test accuracy per arm and label budget" in page and "Do the MIR/HDR terms help?" in page


def test_tiny_sweep_and_compare_end_to_end(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["sweep", "info-loss", "--grid", "method=supervised,fixmatch"]
    args += ["--grid", "info.lambda_mir=0,0.5", "--seeds", "1", *_cli_sets([*TINY[:-2], "steps=4"])]
    args += ["--workers", "1", "--threads", "1", "--out", str(sweep), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", str(sweep), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert record["experiment_error"] is None
    assert {"info_loss_accuracy", "info_loss_verdicts"} <= set(record["tables"])
    assert len(record["tables"]["info_loss_accuracy"]["arms"]) == 4
