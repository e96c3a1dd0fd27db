"""Synthetic runs for examples and doctests: two weight decays × three seeds, no disk needed.

Test accuracy rises later with the smaller weight decay, every seed a little shifted; the last
seed of the first group skipped one evaluation step, so alignment has a step to drop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infodyn.compare.build import Comparison, build_comparison
from infodyn.compare.load import ComparedRun, LoadedRuns, SeriesKey
from infodyn.compare.stats import BandKind
from infodyn.rundir import RunDir
from infodyn.summary import Headline, RunSummary

__all__ = ["demo_comparison", "demo_runs"]

_STEPS = np.unique(np.r_[0, np.geomspace(1, 10_000, 30).astype(np.int64)])


def _rise(steps: np.ndarray, centre: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log10(steps + 1) - centre) / 0.2))


def demo_runs(seeds: int = 3) -> LoadedRuns:
    """Runs of a made-up grokking sweep over ``optim.weight_decay`` ∈ {0.1, 1.0}.

    Example:
        >>> loaded = demo_runs()
        >>> len(loaded.runs), loaded.swept_keys, loaded.runs[0].series.keys()
        (6, ('optim.weight_decay',), dict_keys([('accuracy', 'train', ''), ('accuracy', 'test', ''), ('loss', 'train', ''), ('loss', 'test', '')]))
    """  # noqa: E501
    runs = []
    for wd, centre in ((0.1, 3.4), (1.0, 2.8)):
        for seed in range(seeds):
            shift = 0.08 * (seed - (seeds - 1) / 2)
            steps = _STEPS
            if wd == 0.1 and seed == seeds - 1:
                steps = np.delete(steps, len(steps) // 2)
            train = 0.01 + 0.99 * _rise(steps, 2.0 + shift)
            test = 0.01 + 0.99 * _rise(steps, centre + shift)
            series: dict[SeriesKey, tuple[np.ndarray, np.ndarray]] = {
                ("accuracy", "train", ""): (steps, train),
                ("accuracy", "test", ""): (steps, test),
                ("loss", "train", ""): (steps, 4.6 * (1 - train) + 1e-4),
                ("loss", "test", ""): (steps, 4.6 * (1 - test) + 1e-3),
            }
            reached = steps[test >= 0.9]
            summary = RunSummary(
                (
                    Headline(
                        "generalize_step",
                        "test acc ≥ 0.9 at step",
                        float(reached[0]) if reached.size else None,
                        "{:,.0f}",
                    ),
                    Headline("final_test_accuracy", "final test accuracy", float(test[-1])),
                )
            )
            name = f"wd{wd}-seed{seed}"
            config = {"experiment": "grokking", "seed": seed, "optim": {"weight_decay": wd}}
            runs.append(ComparedRun(name, RunDir(Path("demo") / name), config, summary, series))
    return LoadedRuns("grokking", tuple(runs), ("optim.weight_decay",), (), (Path("demo"),))


def demo_comparison(band: BandKind = "std") -> Comparison:
    """:func:`demo_runs` grouped by weight decay.

    Example:
        >>> [(r.group.label, r.n) for r in demo_comparison().groups]
        [('weight_decay=0.1', 3), ('weight_decay=1.0', 3)]
    """
    return build_comparison(demo_runs(), band=band)
