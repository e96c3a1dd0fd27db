from pathlib import Path

import numpy as np

from infodyn.rundir import RunDir
from infodyn.store import Scalar
from infodyn.viz import draw_run_figures, plot_transfer_entropy


def _te_run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path / "run", {"experiment": "te"})
    steps = np.arange(0, 20)
    records = []
    for step in steps:
        decay = float(np.exp(-step / 5))
        records += [
            Scalar(int(step), "train", "te_mean", 0.01 * decay + 0.001, "in->h"),
            Scalar(int(step), "train", "te_mean", 0.02 * decay + 0.001, "h->softmax"),
            Scalar(int(step), "train", "te_in", 0.01 * decay + 0.001, "h"),
            Scalar(int(step), "train", "te_out", 0.02 * decay + 0.001, "h"),
        ]
    with run.store() as store:
        store.write(records)
    return run


def test_te_figure_is_drawn_from_the_store(tmp_path: Path) -> None:
    run = _te_run(tmp_path)
    with run.store(readonly=True) as store:
        _fig, axes = plot_transfer_entropy(store)
    plane, pairs = axes
    assert len(plane.collections) == 1  # one hidden layer's trajectory
    np.testing.assert_allclose(plane.collections[0].get_offsets()[:, 1].max(), 0.021)
    assert len(pairs.get_lines()) == 2  # two layer pairs
    paths = draw_run_figures(run)
    assert [p.name for p in paths] == ["transfer_entropy.png"]
    assert paths[0].stat().st_size > 5_000
