"""`infodyn compare`: inputs, grouping, alignment, statistics, page, record and CLI.

Stores are written directly with known values, so every mean, std and band below is checked
against NumPy computed by hand on the same numbers.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from infodyn.cli import app
from infodyn.compare import (
    CompareError,
    align_on_shared_steps,
    build_comparison,
    infer_group_keys,
    load_runs,
    seed_band,
    value_stats,
    write_comparison,
)
from infodyn.compare.demo import demo_comparison
from infodyn.compare.figures import alignment_notes, plot_family
from infodyn.compare.stats import AlignedRuns
from infodyn.rundir import RunDir
from infodyn.store import Scalar
from infodyn.summary import Headline, RunSummary
from infodyn.sweep import SweepManifest, SweepRun, save_manifest

STEPS = np.array([0, 10, 20, 50, 100])
runner = CliRunner()


def config(seed: int, wd: float, **extra: Any) -> dict[str, Any]:
    return {
        "experiment": "grokking",
        "seed": seed,
        "steps": 100,
        "optim": {"weight_decay": wd, "lr": 0.001},
        **extra,
    }


def accuracy(seed: int, wd: float) -> np.ndarray:
    """Known test accuracy curve of each (seed, weight decay)."""
    return np.clip(0.1 + wd * 0.5 + 0.05 * seed + STEPS / 400, 0, 1)


def make_run(
    root: Path,
    name: str,
    cfg: dict[str, Any],
    *,
    steps: np.ndarray = STEPS,
    metrics: tuple[str, ...] = ("accuracy", "loss"),
) -> RunDir:
    run = RunDir.create(root / name, cfg)
    seed, wd = cfg["seed"], cfg["optim"]["weight_decay"]
    acc = dict(zip(STEPS.tolist(), accuracy(seed, wd).tolist(), strict=True))
    records = []
    for s in steps.tolist():
        for split, shift in (("train", 0.2), ("test", 0.0)):
            if "accuracy" in metrics:
                records.append(Scalar(s, split, "accuracy", min(1.0, acc[s] + shift)))
            if "loss" in metrics:
                records.append(Scalar(s, split, "loss", 2.0 - acc[s] - shift))
        if "mir" in metrics:
            records.append(Scalar(s, "test", "mir", 0.5 + 0.01 * seed, layer="fc1"))
    with run.store() as store:
        store.write(records)
    return run


@pytest.fixture
def grid(tmp_path: Path) -> list[RunDir]:
    """2 weight decays × 3 seeds; the seed-2 run of wd=0.1 never measured step 20."""
    runs = []
    for wd in (0.1, 1.0):
        for seed in range(3):
            steps = STEPS[STEPS != 20] if (wd, seed) == (0.1, 2) else STEPS
            runs.append(
                make_run(tmp_path / "runs", f"wd{wd}-s{seed}", config(seed, wd), steps=steps)
            )
    return runs


# -- statistics: alignment, bands, value statistics --------------------------------------------


def test_alignment_keeps_shared_steps_and_counts_dropped() -> None:
    a = (np.array([0, 10, 20, 30]), np.array([1.0, 2.0, 3.0, 4.0]))
    b = (np.array([30, 0, 20]), np.array([40.0, 10.0, 30.0]))  # unordered, lacks step 10
    c = (np.array([0, 20, 30, 40]), np.array([5.0, 6.0, 7.0, 8.0]))  # step 40 only here
    aligned = align_on_shared_steps([a, b, c])
    np.testing.assert_array_equal(aligned.steps, [0, 20, 30])
    np.testing.assert_array_equal(
        aligned.values, [[1.0, 3.0, 4.0], [10.0, 30.0, 40.0], [5.0, 6.0, 7.0]]
    )
    assert aligned.dropped == 2  # 10 and 40: recorded by some run, not by every run


def test_alignment_rejects_empty_and_duplicate_steps() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        align_on_shared_steps([])
    with pytest.raises(ValueError, match="occurs twice"):
        align_on_shared_steps([(np.array([0, 0]), np.array([1.0, 2.0]))])


def test_seed_band_matches_numpy() -> None:
    values = np.random.default_rng(0).normal(size=(4, 7))
    aligned = AlignedRuns(np.arange(7), values, 0)
    std = seed_band(aligned, "std")
    np.testing.assert_allclose(std.mean, values.sum(axis=0) / 4)
    by_hand = np.sqrt(((values - values.mean(axis=0)) ** 2).sum(axis=0) / 3)  # ddof = 1
    np.testing.assert_allclose(std.upper - std.mean, by_hand)
    np.testing.assert_allclose(std.mean - std.lower, by_hand)
    minmax = seed_band(aligned, "minmax")
    np.testing.assert_array_equal(minmax.lower, values.min(axis=0))
    np.testing.assert_array_equal(minmax.upper, values.max(axis=0))
    assert std.n == 4


def test_seed_band_of_one_run_has_zero_width_and_bad_kind_is_refused() -> None:
    aligned = AlignedRuns(np.arange(3), np.array([[1.0, 2.0, 3.0]]), 0)
    band = seed_band(aligned, "std")
    np.testing.assert_array_equal(band.lower, band.upper)
    with pytest.raises(ValueError, match="'std' or 'minmax'"):
        seed_band(aligned, "sem")  # type: ignore[arg-type]


def test_value_stats_text_counts_runs_that_reached_the_value() -> None:
    assert value_stats([5690.0, 5810.0, 5930.0]).text("{:,.0f}") == "5,810 ± 120 (n=3 of 3)"
    assert value_stats([5690.0, None, 5930.0]).text("{:,.0f}") == "5,810 ± 170 (n=2 of 3)"
    assert value_stats([7.0, None, None]).text("{:.1f}") == "7.0 (n=1 of 3)"
    assert value_stats([None, None, None]).text() == "— (0 of 3)"
    assert value_stats([1.0, math.nan]).text() == "NaN ± NaN (n=2 of 2)"


# -- loading and grouping -----------------------------------------------------------------------


def test_groups_by_differing_keys_with_means_and_bands_from_numpy(grid: list[RunDir]) -> None:
    comparison = build_comparison(load_runs([r.root for r in grid]))
    assert comparison.keys == ("optim.weight_decay",) and comparison.keys_inferred
    assert [(g.group.label, g.n) for g in comparison.groups] == [
        ("weight_decay=0.1", 3),
        ("weight_decay=1.0", 3),
    ]
    wd1 = comparison.groups[1]
    band = wd1.bands[("accuracy", "test", "")]
    curves = np.stack([accuracy(seed, 1.0) for seed in range(3)])
    np.testing.assert_array_equal(band.steps, STEPS)
    np.testing.assert_allclose(band.mean, curves.mean(axis=0))
    np.testing.assert_allclose(band.upper - band.mean, curves.std(axis=0, ddof=1))
    assert band.dropped == 0
    final = wd1.finals[("accuracy", "test", "")]
    assert final.step == 100
    assert final.stats.mean == pytest.approx(curves[:, -1].mean())
    assert final.stats.std == pytest.approx(curves[:, -1].std(ddof=1))
    # Headlines of the experiment's own summary (grokking: fit and generalisation steps).
    assert [h.key for h in comparison.headlines] == ["fit_step", "generalize_step", "delay_ratio"]
    # train accuracy min(1, test + 0.2) first reaches 0.99 at steps 100, 100, 50 (seeds 0-2)
    assert wd1.headlines["fit_step"].mean == pytest.approx(np.mean([100, 100, 50]))


def test_group_missing_a_step_is_aligned_not_interpolated(grid: list[RunDir]) -> None:
    comparison = build_comparison(load_runs([r.root for r in grid]), band="minmax")
    wd01 = comparison.groups[0]
    band = wd01.bands[("accuracy", "test", "")]
    np.testing.assert_array_equal(band.steps, [0, 10, 50, 100])
    assert band.dropped == 1
    kept = np.isin(STEPS, band.steps)
    curves = np.stack([accuracy(seed, 0.1)[kept] for seed in range(3)])
    np.testing.assert_array_equal(band.lower, curves.min(axis=0))
    np.testing.assert_array_equal(band.upper, curves.max(axis=0))
    notes = alignment_notes(comparison, comparison.series_keys)
    assert notes == ["weight_decay=0.1 — all series: aligned on 4 shared steps; 1 dropped"]


def test_by_picks_keys_and_no_difference_makes_one_group(tmp_path: Path) -> None:
    runs = [make_run(tmp_path, f"s{s}", config(s, 0.5)) for s in range(3)]
    loaded = load_runs([r.root for r in runs])
    assert infer_group_keys(loaded.runs) == ()  # only the seed differs
    (only,) = build_comparison(loaded).groups
    assert only.group.label == "all runs" and only.n == 3
    by_seed = build_comparison(loaded, by=["seed"])
    assert [g.group.label for g in by_seed.groups] == ["seed=0", "seed=1", "seed=2"]


def test_unknown_by_key_lists_close_keys(grid: list[RunDir]) -> None:
    loaded = load_runs([r.root for r in grid])
    with pytest.raises(CompareError, match=r"'optim.weight_decy'.*close keys: optim.weight_decay"):
        build_comparison(loaded, by=["optim.weight_decy"])
    with pytest.raises(CompareError, match=r"close keys: optim.lr, optim.weight_decay"):
        build_comparison(loaded, by=["optim"])
    with pytest.raises(CompareError, match=r"no run's config.json has this key; valid keys: "):
        build_comparison(loaded, by=["zzzzzz"])


def test_bad_inputs_are_refused_with_the_fix(tmp_path: Path, grid: list[RunDir]) -> None:
    with pytest.raises(CompareError, match="no runs to compare"):
        load_runs([])
    (tmp_path / "plain").mkdir()
    with pytest.raises(CompareError, match=r"neither a run directory .* nor a sweep directory"):
        load_runs([tmp_path / "plain"])
    with pytest.raises(CompareError, match="does not exist"):
        load_runs([tmp_path / "nowhere"])
    other = make_run(tmp_path, "parity-run", {**config(0, 0.1), "experiment": "parity"})
    with pytest.raises(
        CompareError,
        match=r"different experiments: 'grokking' \(wd0.1-s0, wd0.1-s1\) and 'parity' "
        r"\(parity-run\)",
    ):
        load_runs([grid[0].root, grid[1].root, other.root])


def test_no_shared_scalar_metric_is_an_error(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a", config(0, 0.1), metrics=("accuracy",))
    b = make_run(tmp_path, "b", config(1, 0.1), metrics=("loss",))
    with pytest.raises(CompareError, match=r"no shared scalar metric.*all runs \(2 runs\)"):
        build_comparison(load_runs([a.root, b.root]))


def test_series_missing_in_one_run_of_a_group_is_not_drawn(tmp_path: Path) -> None:
    runs = [
        make_run(tmp_path, "a", config(0, 0.1), metrics=("accuracy", "mir")),
        make_run(tmp_path, "b", config(1, 0.1), metrics=("accuracy",)),
        make_run(tmp_path, "c", config(0, 1.0), metrics=("accuracy", "mir")),
    ]
    comparison = build_comparison(load_runs([r.root for r in runs]))
    mir = ("mir", "test", "fc1")
    assert mir in comparison.series_keys  # shared by every run of the wd=1.0 group
    assert mir not in comparison.groups[0].bands
    assert "weight_decay=0.1 — mir/test [fc1]: not recorded by every run, not drawn" in (
        alignment_notes(comparison, comparison.series_keys)
    )


def test_headlines_count_runs_that_reached_them(grid: list[RunDir]) -> None:
    def summarize(run: RunDir) -> RunSummary:
        seed = run.config()["seed"]
        return RunSummary(
            (
                Headline("gen", "generalised at", 5690.0 + 120 * seed if seed < 2 else None),
                Headline("never", "never reached", None),
            )
        )

    comparison = build_comparison(load_runs([r.root for r in grid], summarize=summarize))
    stats = comparison.groups[0].headlines
    assert stats["gen"].text("{:,.0f}") == "5,750 ± 85 (n=2 of 3)"
    assert stats["never"].text() == "— (0 of 3)"


# -- sweeps -------------------------------------------------------------------------------------


def sweep_dir(root: Path, states: dict[tuple[float, int], str]) -> Path:
    """A sweep over optim.weight_decay × seeds with a run directory for each finished run."""
    root.mkdir(parents=True, exist_ok=True)
    runs = []
    for (wd, seed), state in states.items():
        name = f"wd{wd}-seed{seed}"
        if state == "finished":
            make_run(root, name, config(seed, wd))
        runs.append(
            SweepRun(
                name=name,
                point={"optim.weight_decay": wd},
                seed=seed,
                config=config(seed, wd),
                state=state,  # type: ignore[arg-type]
                error="RuntimeError: diverged" if state == "failed" else None,
            )
        )
    manifest = SweepManifest(
        experiment="grokking",
        grid={"optim.weight_decay": sorted({wd for wd, _ in states})},
        seeds=sorted({s for _, s in states}),
        runs=runs,
    )
    save_manifest(root, manifest)
    return root


def test_sweep_expands_to_finished_runs_grouped_by_its_grid(tmp_path: Path) -> None:
    states = {(0.1, 0): "finished", (0.1, 1): "finished", (1.0, 0): "finished"}
    states |= {(1.0, 1): "failed", (1.0, 2): "pending", (0.1, 2): "finished"}
    sweep = sweep_dir(tmp_path / "wd-sweep", states)
    (sweep / "wd0.1-seed2" / "config.json").unlink()  # finished in the manifest, but gone
    loaded = load_runs([sweep])
    assert [r.name for r in loaded.runs] == [
        "wd-sweep/wd0.1-seed0",
        "wd-sweep/wd0.1-seed1",
        "wd-sweep/wd1.0-seed0",
    ]
    assert [(s.name, s.state) for s in loaded.skipped] == [
        ("wd-sweep/wd1.0-seed1", "failed"),
        ("wd-sweep/wd1.0-seed2", "pending"),
        ("wd-sweep/wd0.1-seed2", "missing"),
    ]
    assert loaded.skipped[0].error == "RuntimeError: diverged"
    comparison = build_comparison(loaded)
    assert comparison.keys == ("optim.weight_decay",)
    assert [g.n for g in comparison.groups] == [2, 1]


def test_sweep_and_its_own_run_listed_again_count_once(tmp_path: Path) -> None:
    sweep = sweep_dir(tmp_path / "sw", {(0.1, 0): "finished", (0.1, 1): "finished"})
    loaded = load_runs([sweep, sweep / "wd0.1-seed0"])
    assert len(loaded.runs) == 2


def test_sweep_without_finished_runs_is_an_error(tmp_path: Path) -> None:
    sweep = sweep_dir(tmp_path / "sw", {(0.1, 0): "running", (0.1, 1): "failed"})
    with pytest.raises(CompareError, match=r"no finished runs.*2 sweep run\(s\) skipped"):
        load_runs([sweep])


# -- figures, page, record ----------------------------------------------------------------------


def test_family_figure_draws_mean_and_band_per_group_and_split(grid: list[RunDir]) -> None:
    comparison = build_comparison(load_runs([r.root for r in grid]))
    fig, axes = plot_family(comparison, "Training", ["accuracy", "loss"])
    assert len(axes) == 2
    for ax in axes:
        assert len(ax.lines) == 4  # 2 groups × 2 splits
        assert len(ax.collections) == 4  # one band each
        assert ax.get_xscale() == "symlog"
    styles = sorted({line.get_linestyle() for line in axes[0].lines})
    assert styles == ["-", "--"]  # train solid, test dashed
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["weight_decay=0.1 (n=3)", "weight_decay=1.0 (n=3)"]
    assert "1 dropped" in fig.get_supxlabel()


def test_loss_spanning_decades_gets_a_log_axis_accuracy_stays_linear() -> None:
    _, axes = plot_family(demo_comparison(), "Training", ["accuracy", "loss"])
    assert [ax.get_yscale() for ax in axes] == ["linear", "log"]


def test_log_axis_survives_a_group_whose_series_is_all_nan(tmp_path: Path) -> None:
    runs = []
    for seed, wd in ((0, 0.1), (1, 0.1), (0, 1.0)):
        run = RunDir.create(tmp_path / f"r{seed}-{wd}", config(seed, wd))
        losses = [4.0 * 10.0**-s for s in range(5)] if wd == 0.1 else [math.nan] * 5
        with run.store() as store:
            store.write([Scalar(s, "train", "loss", v) for s, v in enumerate(losses)])
        runs.append(run)
    comparison = build_comparison(load_runs([r.root for r in runs]))
    _, (ax,) = plot_family(comparison, "Training", ["loss"])
    assert ax.get_yscale() == "log"
    assert np.isnan(comparison.groups[1].bands[("loss", "train", "")].mean).all()


def test_write_comparison_page_record_and_figures(tmp_path: Path, grid: list[RunDir]) -> None:
    odd = make_run(tmp_path, "odd", config(0, 0.1, note="<b>bold</b>"))
    with pytest.warns(UserWarning, match="does not validate as a grokking config"):
        loaded = load_runs([*(r.root for r in grid), odd.root])
    comparison = build_comparison(loaded, by=["optim.weight_decay", "note"])
    out = write_comparison(comparison, tmp_path / "cmp")
    assert sorted(p.name for p in out.directory.iterdir()) == [
        "compare.html",
        "compare.json",
        "figures",
    ]
    assert [p.name for p in out.figures] == ["training.png", "timeline.png"]
    assert out.figures[0].read_bytes().startswith(b"\x89PNG")
    page = out.page.read_text(encoding="utf-8")
    assert "<script" not in page and "<b>bold</b>" not in page
    assert "note=&lt;b&gt;bold&lt;/b&gt;" in page
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 2  # + the timeline
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # nothing external
    assert "aligned on 4 shared steps; 1 dropped" in page
    record = json.loads(out.record.read_text(encoding="utf-8"))
    assert record["format"] == "infodyn-compare-v1"
    assert record["grouped_by"] == ["optim.weight_decay", "note"]
    assert [(g["label"], g["n"]) for g in record["groups"]] == [
        ("weight_decay=0.1, note=<b>bold</b>", 1),
        ("weight_decay=0.1, note=—", 3),
        ("weight_decay=1.0, note=—", 3),
    ]
    wd1 = record["groups"][2]
    final = next(f for f in wd1["final"] if (f["metric"], f["split"]) == ("accuracy", "test"))
    curves = np.stack([accuracy(seed, 1.0) for seed in range(3)])
    assert final["mean"] == pytest.approx(curves[:, -1].mean())
    assert final["std"] == pytest.approx(curves[:, -1].std(ddof=1))
    assert (final["step"], final["n"], final["shared_steps"], final["dropped"]) == (100, 3, 5, 0)
    # the odd run's config is not a valid grokking config: shown without headlines (warned)
    assert {h["n"] for h in record["groups"][0]["headlines"].values()} == {0}
    assert record["groups"][2]["headlines"]["fit_step"]["mean"] == pytest.approx(250 / 3)
    assert record["figures"] == ["figures/training.png"]
    assert record["explain"]["figure"] == "figures/timeline.png"
    assert [g["label"] for g in record["explain"]["groups"]] == [
        g["label"] for g in record["groups"]
    ]
    leftovers = [p for p in out.directory.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_nan_is_kept_as_nan_on_the_page_and_null_in_the_record(tmp_path: Path) -> None:
    runs = [make_run(tmp_path, f"s{s}", config(s, 0.1)) for s in range(2)]
    with runs[1].store() as store:
        store.write([Scalar(100, "test", "loss", math.nan)])
    comparison = build_comparison(load_runs([r.root for r in runs]))
    out = write_comparison(comparison, tmp_path / "cmp")
    record = json.loads(out.record.read_text(encoding="utf-8"))
    loss = next(
        f for f in record["groups"][0]["final"] if (f["metric"], f["split"]) == ("loss", "test")
    )
    assert loss["mean"] is None and loss["n"] == 2
    assert "NaN ± NaN (n=2 of 2)" in out.page.read_text(encoding="utf-8")


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_compare_prints_table_and_paths(tmp_path: Path, grid: list[RunDir]) -> None:
    out = tmp_path / "cmp"
    args = ["compare", *(str(r.root) for r in grid), "--band", "minmax", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "grokking: 6 runs in 2 groups, grouped by optim.weight_decay" in result.output
    assert "weight_decay=0.1" in result.output and "final accuracy/test" in result.output
    assert f"report: {out / 'compare.html'}" in result.output
    assert f"record: {out / 'compare.json'}" in result.output
    assert json.loads((out / "compare.json").read_text())["band"] == "minmax"


def test_cli_compare_default_out_and_skipped_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep = sweep_dir(tmp_path / "sw", {(0.1, 0): "finished", (1.0, 0): "failed"})
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["compare", str(sweep)])
    assert result.exit_code == 0, result.output
    assert "skipped 1 sweep run(s) that are not finished (1 failed)" in result.output
    (made,) = tmp_path.glob("compare-*")
    assert re.fullmatch(r"compare-\d{8}-\d{6}", made.name)
    assert (made / "compare.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no runs to compare"),
        (["{tmp}"], "neither a run directory"),
        (["{run}", "--by", "optim.weight_decy"], "close keys: optim.weight_decay"),
        (["{run}", "--out", "{file}"], "is a file"),
    ],
)
def test_cli_compare_errors_exit_2_with_the_message(
    tmp_path: Path, grid: list[RunDir], args: list[str], message: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    fill = {"tmp": str(tmp_path), "run": str(grid[0].root), "file": str(tmp_path / "a-file")}
    result = runner.invoke(app, ["compare", *(a.format(**fill) for a in args)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
