"""Figures and the HTML report, drawn from a synthetic grokking-like run."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import numpy as np
import pytest

from infodyn.experiments.grokking import grokking_markers
from infodyn.report import flatten_config, write_report
from infodyn.rundir import RunDir
from infodyn.store import RunStore, Scalar
from infodyn.summary import RunSummary
from infodyn.viz import FIGURES, draw_run_figures, plot_matrix_information, plot_training_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONFIG = {
    "experiment": "grokking",
    "model": {"width": 128, "layers": 1},
    "optimizer": {"lr": 0.001, "weight_decay": 1.0},
    "note": "<script>alert('x')</script>",
}


def _sigmoid_in_log_step(steps: np.ndarray, centre: float, width: float = 0.2) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log10(steps + 1) - centre) / width))


def fill_grokking_run(store: RunStore, *, matrix_info: bool = True) -> None:
    """Train accuracy rises around step 100 (fit ≈ 830), test around 4 000 (generalise ≈ 11 000)."""
    steps = np.unique(np.r_[0, np.geomspace(1, 30_000, 70).astype(int)])
    train_acc = 0.01 + 0.99 * _sigmoid_in_log_step(steps, 2.0)
    test_acc = 0.01 + 0.99 * _sigmoid_in_log_step(steps, 3.6)
    curves = {
        ("accuracy", "train"): train_acc,
        ("accuracy", "test"): test_acc,
        ("loss", "train"): 4.6 * (1 - train_acc) + 1e-4,
        ("loss", "test"): 4.6 * (1 - test_acc) + 3.0 * train_acc * (1 - test_acc) + 1e-3,
    }
    if matrix_info:
        for split, acc in (("train", train_acc), ("test", test_acc)):
            curves[("mir", split)] = 0.2 + 0.6 * acc
            curves[("hdr", split)] = 0.7 - 0.5 * acc
            curves[("entropy_features", split)] = 4.0 - 2.5 * acc
            # The head's entropy depends on the weights only: the same on both splits.
            curves[("entropy_head", split)] = 4.5 - 2.0 * _sigmoid_in_log_step(steps, 3.0)
    layer = {"mir": "blocks.0", "hdr": "blocks.0", "entropy_features": "blocks.0"}
    store.write(
        [
            Scalar(int(s), split, metric, float(v), layer=layer.get(metric, ""))
            for (metric, split), values in curves.items()
            for s, v in zip(steps, values, strict=True)
        ]
    )


def grokking_summary(run: RunDir) -> RunSummary:
    with run.store(readonly=True) as store:
        headlines, markers = grokking_markers(store)
    return RunSummary(headlines, markers)


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path / "grokking-20261125-074501", CONFIG)
    with run.store() as store:
        fill_grokking_run(store)
        store.set_meta("wall_time_s", 754.2)
        store.set_meta("train_time_s", 700.0)
        store.set_meta("monitor_time_s", 37.7)
        store.set_meta("steps_completed", 30_000)
        store.set_meta("device", "cpu")
        store.set_meta("threads", 2)
        store.set_meta("seed_used", "<b>7</b>")
    return run


def test_training_curves_axes_and_lines(run: RunDir) -> None:
    with run.store(readonly=True) as store:
        fig, axes = plot_training_curves(store, grokking_summary(run).markers)
    assert axes.shape == (2,)
    for ax in axes:
        # 2 splits + a vertical line at the fit step and one at the generalisation step.
        assert len(ax.lines) == 4
        assert len(ax.patches) == 1  # the shaded band between them
        assert ax.get_xscale() == "symlog"
    assert [line.get_linestyle() for line in axes[0].lines[:2]] == ["-", "--"]
    assert axes[1].get_yscale() == "log"
    # Splits and markers are shared by both panels: one legend under them, none inside.
    (fig_legend,) = fig.legends
    assert [t.get_text()[:16] for t in fig_legend.get_texts()] == [
        "train",
        "test",
        "train acc ≥ 0.99",
        "test acc ≥ 0.9 (",
        "train fit, test ",
    ]
    assert axes[0].get_legend() is None and axes[1].get_legend() is None
    fit_x = axes[0].lines[2].get_xdata()[0]
    gen_x = axes[0].lines[3].get_xdata()[0]
    assert 500 < fit_x < 1_500 and 8_000 < gen_x < 15_000
    assert "later" in fig.get_suptitle()


def test_matrix_information_axes_and_lines(run: RunDir) -> None:
    with run.store(readonly=True) as store:
        fig, axes = plot_matrix_information(store, grokking_summary(run).markers)
    assert axes.shape == (2,)
    # MIR/HDR × train/test, plus the two transition lines; on the right the split-independent
    # head entropy is one curve, not two drawn on top of each other.
    assert [len(ax.lines) for ax in axes] == [6, 5]
    assert "layer blocks.0" in axes[0].get_title()
    assert "nats" in axes[1].get_ylabel()
    labels = axes[0].get_legend_handles_labels()[1]
    assert {"MIR train", "MIR test", "HDR train", "HDR test"} <= set(labels)
    # H(features) is per layer, H(head) is not: each legend entry then says its layer.
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == [
        "H(features) train [blocks.0]",
        "H(features) test [blocks.0]",
        "H(head) train = test",
    ]
    assert axes[1].get_title() == "Matrix entropies"
    assert len(fig.legends) == 1


def test_draw_run_figures_writes_pngs(run: RunDir) -> None:
    paths = draw_run_figures(run)
    assert [p.name for p in paths] == ["training.png", "matrix_information.png"]
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 20_000  # a drawn figure, not an empty canvas
    assert sorted(os.listdir(run.figures_dir)) == ["matrix_information.png", "training.png"]


def test_report_lists_train_before_test(run: RunDir) -> None:
    page = write_report(run).read_text(encoding="utf-8")
    assert page.index("final accuracy — train") < page.index("final accuracy — test")
    assert page.index("final accuracy — test") < page.index("final loss — train")


def test_figures_without_metrics_are_skipped(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "r", {})
    assert draw_run_figures(run) == []
    with run.store() as store:
        fill_grokking_run(store, matrix_info=False)
    assert [p.name for p in draw_run_figures(run)] == ["training.png"]


def test_partial_metrics_leave_a_labelled_empty_panel(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        store.write([Scalar(s, "train", "entropy_head", 1.0) for s in range(3)])
        _, axes = plot_matrix_information(store)
        assert len(axes[0].lines) == 0 and axes[0].texts[0].get_text() == "no MIR/HDR recorded"
        assert len(axes[1].lines) == 1


def test_registry_filenames_are_unique() -> None:
    names = [spec.filename for spec in FIGURES]
    assert len(names) == len(set(names)) and all(n.endswith(".png") for n in names)


def test_an_experiment_figure_is_drawn_and_captioned(run: RunDir) -> None:
    from infodyn.summary import FigureSpec
    from infodyn.viz import plot_training_curves

    extra = FigureSpec("extra.png", "An experiment's own figure", ("loss",), plot_training_curves)
    summary = RunSummary(figures=(extra,))
    assert [p.name for p in draw_run_figures(run, summary)][-1] == "extra.png"
    page = write_report(run, summary).read_text(encoding="utf-8")
    # The two built-in figures, the experiment's, and the timeline of transitions.
    assert "An experiment&#x27;s own figure" in page and page.count("data:image/png") == 4


def test_figures_without_markers_have_none(run: RunDir) -> None:
    with run.store(readonly=True) as store:
        fig, axes = plot_training_curves(store)
    assert [len(ax.lines) for ax in axes] == [2, 2] and not axes[0].patches
    assert fig.get_suptitle() == "Training curves"


def test_report_is_self_contained_and_escaped(run: RunDir) -> None:
    path = write_report(run, grokking_summary(run))
    assert path == run.report_path
    page = path.read_text(encoding="utf-8")
    assert "grokking-20261125-074501 — grokking" in page
    # Config values, flattened to dotted keys.
    for text in ("model.width", "128", "optimizer.weight_decay", "0.001"):
        assert text in page
    # Escaped, never live markup.
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>7</b>" not in page and "&lt;b&gt;7&lt;/b&gt;" in page
    # Figures embedded, and nothing loaded from elsewhere.
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 3  # two figures and the timeline of transitions
    assert all(base64.b64decode(img).startswith(PNG_MAGIC) for img in images)
    assert not re.search(r"(src|href)=['\"](?!data:)", page)
    # Summary from the store and its metadata.
    for text in ("train accuracy ≥ 0.99", "final accuracy — test", "final MIR — train [blocks.0]",
                 "12 min 34 s", "5.0% of wall time", "30000", "cpu", "torch", "numpy"):  # fmt: skip
        assert text in page
    # No temporary left behind (readers may leave SQLite's -wal/-shm files, which is normal).
    assert not [name for name in os.listdir(run.root) if name.endswith(".tmp")]
    assert (run.root / "report.html").is_file()


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "bare", {"nested": {"deep": {"x": [1, 2]}}})
    page = write_report(run).read_text(encoding="utf-8")
    assert "<h1>bare</h1>" in page
    assert "nested.deep.x" in page and "[1, 2]" in page
    assert "No figures" in page


def test_report_can_embed_existing_figures(run: RunDir) -> None:
    draw_run_figures(run)
    (run.figures_dir / "matrix_information.png").unlink()
    page = write_report(run, redraw=False).read_text(encoding="utf-8")
    # The figure left, and the timeline of transitions, drawn because it was missing.
    assert page.count("data:image/png;base64,") == 2


def test_flatten_config() -> None:
    assert flatten_config({"b": {"c": 1, "a": {}}, "a": None}) == [
        ("a", None),
        ("b.a", {}),
        ("b.c", 1),
    ]
