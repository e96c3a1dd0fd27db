"""The linear-mode-connectivity figures and tables: one run's paths, and across seeds.

:func:`draw_run_paths` and :func:`draw_run_networks` are one run's figures;
:func:`summarize_lmc` is the experiment's
:meth:`~infodyn.experiments.base.Experiment.summarize_comparison`: per group, each pair's
barrier, MIR dip and HDR rise as mean ± std over seeds, the seed-paired difference between the
independent and the connected pair, and the paths against α with seed bands. Reading from the
store is :func:`read_paths`; drawing is :func:`plot_paths` (it takes computed curves only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from infodyn.compare.build import Comparison
from infodyn.compare.load import ComparedRun
from infodyn.compare.stats import ValueStats, value_stats
from infodyn.store import RunStore
from infodyn.summary import ComparisonFigure, ComparisonSummary, ComparisonTable

__all__ = [
    "PathCurve",
    "RunPaths",
    "at_barrier",
    "draw_run_networks",
    "draw_run_paths",
    "plot_paths",
    "read_paths",
    "summarize_lmc",
]

PAIR_COLOR = {"connected": "tab:blue", "independent": "tab:red"}
SPLIT_STYLE: dict[str, Literal["-", "--"]] = {"train": "-", "test": "--"}
#: Panels of the path figure: (quantity, title, y label).
PANELS = (
    ("loss", "loss", "cross-entropy (nats)"),
    ("accuracy", "accuracy", "accuracy"),
    ("mir", "MIR", "MIR"),
    ("hdr", "HDR", "HDR"),
)
_PAIRS = ("connected", "independent")
_SPLITS = ("train", "test")


@dataclass(frozen=True)
class RunPaths:
    """One run's paths at one step: ``values[(quantity, split, pair)]`` is ``(len(alphas),)``."""

    step: int
    alphas: np.ndarray
    values: dict[tuple[str, str, str], np.ndarray]


def read_paths(store: RunStore, step: int | None = None) -> RunPaths | None:
    """The path arrays at ``step`` (default: the last step with paths); None if none stored."""
    arrays = [a for a in store.arrays() if a.metric.startswith("path_")]
    steps = sorted({a.step for a in arrays if a.metric == "path_loss"})
    if not steps:
        return None
    at = steps[-1] if step is None else step
    values = {
        (a.metric.removeprefix("path_"), a.split, a.layer): np.asarray(a.value, dtype=np.float64)
        for a in arrays
        if a.step == at and a.metric != "path_alpha"
    }
    alphas = next(a.value for a in arrays if a.step == at and a.metric == "path_alpha")
    return RunPaths(at, np.asarray(alphas, dtype=np.float64), values)


@dataclass(frozen=True)
class PathCurve:
    """A curve against α: the mean over runs with its ± std band (no band for one run)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int


def _curve(rows: Sequence[np.ndarray]) -> PathCurve:
    stacked = np.stack(rows)
    mean = np.nanmean(stacked, axis=0)
    spread = np.nanstd(stacked, axis=0, ddof=1) if len(rows) > 1 else np.zeros_like(mean)
    return PathCurve(mean, mean - spread, mean + spread, len(rows))


def plot_paths(
    rows: Sequence[tuple[str, Mapping[tuple[str, str, str], PathCurve], Mapping[str, str]]],
    alphas: np.ndarray,
    title: str,
) -> tuple[Figure, np.ndarray]:
    """Loss, accuracy, MIR and HDR against α: one row of four panels per entry of ``rows``.

    Args:
        rows: ``(row title, curves, pair labels)``; ``curves[(quantity, split, pair)]``;
            ``pair labels[pair]`` is the legend text of the pair (e.g. with its barrier).
        alphas: The α grid.
        title: Figure title.

    Returns:
        ``(fig, axes)``, axes shaped ``(len(rows), 4)``.
    """
    fig = Figure(figsize=(17, 3.6 * len(rows) + 0.9), layout="constrained")
    axes = np.asarray(fig.subplots(len(rows), len(PANELS), squeeze=False), dtype=object)
    for r, (row_title, curves, labels) in enumerate(rows):
        for c, (quantity, panel_title, ylabel) in enumerate(PANELS):
            ax = axes[r, c]
            for pair in _PAIRS:
                for split in _SPLITS:
                    curve = curves.get((quantity, split, pair))
                    if curve is None:
                        continue
                    color = PAIR_COLOR[pair]
                    if curve.n > 1:
                        ax.fill_between(
                            alphas, curve.lower, curve.upper, color=color, alpha=0.12, lw=0
                        )
                    ax.plot(
                        alphas, curve.mean, color=color, linestyle=SPLIT_STYLE[split], lw=1.8,
                        marker="o", ms=3,
                    )  # fmt: skip
            ax.set_title(
                f"{panel_title} — {row_title}" if row_title else panel_title, fontsize="medium"
            )
            ax.set_xlabel("α  (0: A or C, 1: B or D)")
            ax.set_ylabel(ylabel)
            ax.set_xlim(0, 1)
            ax.grid(True, alpha=0.3)
        handles = [
            Line2D([], [], color=PAIR_COLOR[p], lw=2, label=labels.get(p, p)) for p in _PAIRS
        ]
        handles += [
            Line2D([], [], color="0.3", linestyle=SPLIT_STYLE[s], label=f"{s} split")
            for s in _SPLITS
        ]
        axes[r, 0].legend(handles=handles, fontsize="small", loc="best")
    fig.suptitle(title)
    return fig, axes


def _barrier_text(store: RunStore, pair: str, step: int) -> str:
    try:
        steps, values = store.series("loss_barrier", "test", layer=pair)
    except (KeyError, ValueError):
        return pair
    hit = values[steps == step]
    return f"{pair}: test loss barrier {float(hit[0]):.3f}" if hit.size else pair


def draw_run_paths(store: RunStore) -> tuple[Figure, np.ndarray]:
    """One run's paths at its last path step (see :func:`plot_paths`)."""
    paths = read_paths(store)
    if paths is None:
        fig = Figure(figsize=(6, 2))
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no path recorded", ha="center", va="center")
        ax.set_axis_off()
        return fig, np.asarray([[ax]], dtype=object)
    curves = {k: _curve([v]) for k, v in paths.values.items()}
    labels = {p: _barrier_text(store, p, paths.step) for p in _PAIRS}
    return plot_paths(
        [("", curves, labels)],
        paths.alphas,
        f"Linear paths at step {paths.step:,}: θ(α) = (1 − α)·θ_A + α·θ_B (one init) and C → D "
        f"(two inits)",
    )


def draw_run_networks(store: RunStore) -> tuple[Figure, np.ndarray]:
    """Each network's accuracy (left) and loss (right, log y) against step (linear: the
    networks are logged at evenly spaced steps)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = np.asarray(fig.subplots(1, 2), dtype=object)
    colors = {"A": "tab:blue", "B": "tab:cyan", "C": "tab:red", "D": "tab:orange"}
    stored = set(store.keys())
    for ax, metric in zip(axes, ("net_accuracy", "net_loss"), strict=True):
        for name, color in colors.items():
            for split in _SPLITS:
                if (metric, split, name) not in stored:
                    continue
                steps, values = store.series(metric, split, layer=name)
                label = f"{name} {split}"
                ax.plot(
                    steps, values, color=color, linestyle=SPLIT_STYLE[split], lw=1.5, label=label
                )
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
        ax.set_title(metric.removeprefix("net_"))
        if metric == "net_loss":
            ax.set_yscale("log")
    axes[0].legend(fontsize="small", ncols=2)
    fig.suptitle("The four networks: A, B from one initialisation; C, D from two")
    return fig, axes


# --- across runs -------------------------------------------------------------------------

#: (metric, split) of the barrier table's record; the page shows the held-out ones.
_TABLE_METRICS = (
    ("loss_barrier", "test"),
    ("loss_barrier", "train"),
    ("error_barrier", "test"),
    ("error_barrier", "train"),
    ("mir_change_at_barrier", "test"),
    ("hdr_change_at_barrier", "test"),
    ("mir_dip", "test"),
    ("mir_dip", "train"),
    ("hdr_rise", "test"),
    ("hdr_rise", "train"),
)


def _final(run: ComparedRun, metric: str, split: str, pair: str) -> float | None:
    series = run.series.get((metric, split, pair))
    return None if series is None else float(series[1][-1])


def _run_paths(run: ComparedRun) -> RunPaths | None:
    with run.run.store(readonly=True) as store:
        return read_paths(store)


def at_barrier(paths: RunPaths, quantity: str, pair: str) -> tuple[float, float]:
    """The mean of ``quantity`` at the two endpoints, and its value at α*, the α where the
    held-out loss rises most above its chord (where the barrier is)."""
    alphas = paths.alphas
    loss = paths.values[("loss", "test", pair)]
    excess = loss - ((1 - alphas) * loss[0] + alphas * loss[-1])
    star = int(np.nanargmax(excess))
    v = paths.values[(quantity, "test", pair)]
    return float(np.mean([v[0], v[-1]])), float(v[star])


def _stats_record(v: ValueStats) -> dict[str, Any]:
    return {"mean": v.mean, "std": v.std, "n": v.n, "total": v.total}


def _paired(runs: Sequence[ComparedRun], metric: str) -> ValueStats:
    """independent − connected, per run (the two pairs of a run share seed and data)."""
    diffs = []
    for run in runs:
        a, b = _final(run, metric, "test", "independent"), _final(run, metric, "test", "connected")
        diffs.append(None if a is None or b is None else a - b)
    return value_stats(diffs)


def summarize_lmc(comparison: Comparison) -> ComparisonSummary:
    """The experiment's own part of ``infodyn compare``: tables and the path figure."""
    rows, record_groups, claim_rows = [], [], []
    figure_rows = []
    alphas: np.ndarray | None = None
    for result in comparison.groups:
        runs = result.group.runs
        paths = [p for p in (_run_paths(r) for r in runs) if p is not None]
        group_record: dict[str, Any] = {"label": result.group.label, "pairs": {}}
        for pair in _PAIRS:
            text: dict[str, str] = {}
            pair_record: dict[str, Any] = {}
            for metric, split in _TABLE_METRICS:
                stats = value_stats([_final(r, metric, split, pair) for r in runs])
                text[f"{metric}_{split}"] = stats.text("{:.3f}", counts=False)
                pair_record[f"{metric}_{split}"] = _stats_record(stats)
            for quantity in ("mir", "hdr"):
                pairs_ = [at_barrier(p, quantity, pair) for p in paths]
                ends = value_stats([e for e, _ in pairs_])
                star = value_stats([x for _, x in pairs_])
                text[quantity] = (
                    f"{ends.text('{:.3f}', counts=False)} → {star.text('{:.3f}', counts=False)}"
                )
                pair_record[f"{quantity}_ends"] = _stats_record(ends)
                pair_record[f"{quantity}_at_barrier"] = _stats_record(star)
            cells = [
                f"{result.group.label} (n={len(runs)})",
                pair,
                text["loss_barrier_test"],
                text["error_barrier_test"],
                text["mir"],
                text["mir_dip_test"],
                text["hdr"],
                text["hdr_rise_test"],
            ]
            rows.append(tuple(cells))
            group_record["pairs"][pair] = pair_record
        record_groups.append(group_record)
        for metric, what in (
            ("loss_barrier", "loss barrier"),
            ("error_barrier", "error barrier"),
            ("mir_dip", "MIR dip"),
            ("hdr_rise", "HDR rise"),
            ("mir_change_at_barrier", "MIR − chord at α*"),
            ("hdr_change_at_barrier", "HDR − chord at α*"),
        ):
            diff = _paired(runs, metric)
            above = sum(
                1
                for r in runs
                if (a := _final(r, metric, "test", "independent")) is not None
                and (b := _final(r, metric, "test", "connected")) is not None
                and a > b
            )
            claim_rows.append(
                (
                    result.group.label,
                    what,
                    diff.text("{:.3f}", counts=False),
                    f"{above} of {len(runs)}",
                )
            )
        if paths and all(np.array_equal(p.alphas, paths[0].alphas) for p in paths):
            alphas = paths[0].alphas
            keys = set.intersection(*(set(p.values) for p in paths))
            curves = {k: _curve([p.values[k] for p in paths]) for k in keys}
            labels = {pair: f"{pair} (n={len(paths)})" for pair in _PAIRS}
            figure_rows.append((result.group.label, curves, labels))
    columns = (
        "group", "pair", "loss barrier (nats)", "error barrier", "MIR: ends → at α*",
        "MIR dip", "HDR: ends → at α*", "HDR rise",
    )  # fmt: skip
    table = ComparisonTable(
        "lmc_barriers",
        "Barriers and matrix information along the two paths",
        "Mean ± sample std over each group's runs, at the last step, on the held-out split "
        "(compare.json also holds the training split's). Loss barrier: max over α of the loss "
        "minus the chord between the endpoints; error barrier: the same for the accuracy drop; "
        "MIR dip / HDR rise: how far MIR falls below / HDR climbs above its chord (max over α). "
        "'ends → at α*': the mean of the endpoints' value, then the value at α*, the α where the "
        "loss barrier is (a fall there shows as a lower number, whichever way HDR moves). "
        "BatchNorm statistics are recomputed at every α.",
        columns,
        tuple(rows),
        {"groups": record_groups},
    )
    contrast = ComparisonTable(
        "lmc_contrast",
        "Independent minus connected, seed by seed",
        "For each run, the independent pair's value minus the connected pair's (same seed, same "
        "data), mean ± sample std over runs, and in how many runs the independent pair's value "
        "is the larger.",
        ("group", "quantity", "independent − connected", "independent larger in"),
        tuple(claim_rows),
        {"rows": [list(r) for r in claim_rows]},
    )
    figures = []
    if figure_rows and alphas is not None:
        fig, _ = plot_paths(
            figure_rows,
            alphas,
            "Loss, accuracy, MIR and HDR along θ(α): one initialisation (blue) vs two (red); "
            "mean ± std over seeds",
        )
        figures.append(
            ComparisonFigure(
                "lmc_paths.png",
                "Linear paths, connected vs independent",
                "Each group's mean path over its runs at the last step (± 1 sample std shaded): "
                "training split solid, held-out dashed; blue is the pair from one "
                "initialisation, red the pair from two.",
                fig,
            )
        )
    return ComparisonSummary(tables=(table, contrast), figures=tuple(figures))
