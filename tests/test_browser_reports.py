"""The HTML reports opened in a real browser (headless Chromium; see ``tests/browser.py``).

A page passes when the browser logs no error, every ``<img>`` decodes to a non-empty picture,
and the page is not blank. Screenshots land in pytest's tmp dir (their paths are printed;
``pytest -s`` shows them). Without Chromium these tests skip and say why; ``.ci/run`` installs
it so CI always runs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from browser import check_page, find_chromium
from infodyn.cli import app
from infodyn.rundir import RunDir
from infodyn.store import Scalar
from infodyn.sweep import SweepManifest, SweepRun, save_manifest

runner = CliRunner()

TINY_RUN = [
    "--set", "steps=30",
    "--set", "data.modulus=11",
    "--set", "monitor.points=4",
    "--set", "monitor.eval_samples=32",
    "--set", "monitor.eval_batch=32",
    "--set", "threads=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip(
            "chromium not installed: `apt-get install chromium` (Debian; .ci/run does it) or "
            "point INFODYN_CHROMIUM at a Chromium/Chrome binary"
        )
    return found


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _rise(steps: np.ndarray, centre: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log10(steps + 1) - centre) / 0.2))


def _synthetic_sweep(root: Path) -> Path:
    """Grokking-like runs: weight decay 0.1 / 1.0 × 3 seeds, one failed, one missing a step."""
    root.mkdir(parents=True)
    steps = np.unique(np.r_[0, np.geomspace(1, 10_000, 40).astype(int)])
    entries = []
    for wd, centre in ((0.1, 3.4), (1.0, 2.8)):
        for seed in range(3):
            name = f"wd{wd}-seed{seed}"
            config = {"experiment": "grokking", "seed": seed, "optim": {"weight_decay": wd}}
            state = "failed" if (wd, seed) == (1.0, 2) else "finished"
            entries.append(
                SweepRun(name=name, point={"optim.weight_decay": wd}, seed=seed, config=config,
                         state=state, error="RuntimeError: loss diverged" if state == "failed"
                         else None)
            )  # fmt: skip
            if state != "finished":
                continue
            run = RunDir.create(root / name, config)
            kept = np.delete(steps, 20) if (wd, seed) == (0.1, 2) else steps
            shift = 0.1 * (seed - 1)
            train = 0.01 + 0.99 * _rise(kept, 2.0 + shift)
            test = 0.01 + 0.99 * _rise(kept, centre + shift)
            curves = {
                ("accuracy", "train", ""): train,
                ("accuracy", "test", ""): test,
                ("loss", "train", ""): 4.6 * (1 - train) + 1e-4,
                ("loss", "test", ""): 4.6 * (1 - test) + 1e-3,
                ("mir", "train", "head:input"): 0.2 + 0.6 * train,
                ("mir", "test", "head:input"): 0.2 + 0.6 * test,
            }
            with run.store() as store:
                store.write(
                    [
                        Scalar(int(s), split, metric, float(v), layer=layer)
                        for (metric, split, layer), values in curves.items()
                        for s, v in zip(kept, values, strict=True)
                    ]
                )
    save_manifest(
        root,
        SweepManifest(
            experiment="grokking",
            grid={"optim.weight_decay": [0.1, 1.0]},
            seeds=[0, 1, 2],
            runs=entries,
        ),
    )
    return root


def _assert_reads_well(page: Path, shot: Path, *, images: int) -> None:
    check = check_page(page, shot)
    print(f"screenshot of {page.name}: {check.screenshot}")
    assert check.console_errors == []
    assert len(check.images) == images
    assert check.broken_images == []
    assert all(i["width"] >= 600 and i["height"] >= 200 for i in check.images)
    assert not check.blank
    assert check.text_length > 500 and check.ink > 0.02


def test_run_report_in_browser(chromium: str, tmp_path: Path, screenshots: Path) -> None:
    result = runner.invoke(app, ["run", "grokking", *TINY_RUN, "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    figures = len(list((run_dir / "figures").glob("*.png")))
    assert figures >= 2
    _assert_reads_well(run_dir / "report.html", screenshots / "run-report.png", images=figures)


def test_compare_report_in_browser(chromium: str, tmp_path: Path, screenshots: Path) -> None:
    sweep = _synthetic_sweep(tmp_path / "wd-sweep")
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(sweep), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the two generic figures and the timeline of transitions
    _assert_reads_well(out / "compare.html", screenshots / "compare-report.png", images=3)


def test_weight_decay_study_page_in_browser(
    chromium: str, tmp_path: Path, screenshots: Path
) -> None:
    """The experiment's own tables and Figs. 3, 4, 2 after the generic figures."""
    from study_helpers import study_run

    runs = [str(study_run(tmp_path, lam, seed).root) for lam in (0.02, 0.1) for seed in (0, 1)]
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", *runs, "--out", str(out)])
    assert result.exit_code == 0, result.output
    figures = len(list((out / "figures").glob("*.png")))
    assert figures >= 5  # generic families + fig3, fig4, fig2
    _assert_reads_well(out / "compare.html", screenshots / "weight-decay-study.png", images=figures)


def test_the_check_catches_broken_images_errors_and_blank_pages(
    chromium: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>text</p>"
        "<img src='data:image/png;base64,iVBORw0KGgoAAAA' alt='truncated png'>"
        "<img src='missing.png' alt='missing file'></body></html>"
    )
    check = check_page(broken, tmp_path / "broken.png")
    assert [i["alt"] for i in check.broken_images] == ["truncated png", "missing file"]
    assert any("missing.png" in e for e in check.console_errors), check.console_errors
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert check_page(blank, tmp_path / "blank.png").blank
