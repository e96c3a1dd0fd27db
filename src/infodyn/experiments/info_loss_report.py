"""The info-loss study on the comparison page: accuracy per arm and budget, λ sensitivity.

:func:`summarize_info_loss` is the info-loss experiment's
:meth:`~infodyn.experiments.base.Experiment.summarize_comparison`. The numbers come from
:mod:`infodyn.experiments.info_loss_study`; this module lays them out as tables and draws one
figure (accuracy and seed-paired gain per arm and budget, and gain against λ).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from infodyn.compare.build import Comparison
from infodyn.compare.stats import ValueStats
from infodyn.experiments.info_loss_study import ArmResult, arm_label, arm_results
from infodyn.summary import ComparisonFigure, ComparisonSummary, ComparisonTable

__all__ = ["plot_arms", "summarize_info_loss"]


def _pm(v: ValueStats, fmt: str = "{:.3f}", *, counts: bool = True) -> str:
    if v.mean is None:
        return "—"
    body = fmt.format(v.mean)
    if v.std is not None:
        body += f" ± {fmt.format(v.std)}"
    return body + (f" ({v.n})" if counts else "")


def _accuracy_table(results: Sequence[ArmResult]) -> ComparisonTable:
    columns = (
        "labels / class", "arm", "test accuracy", "gain vs same method, λ = 0",
        "gain vs CE", "pseudo-labels: confident / right", "test MIR / HDR",
    )  # fmt: skip
    rows = []
    for r in results:
        e = r.extras
        pseudo = "—"
        if r.arm.method == "fixmatch":
            confident = _pm(e["final_mask_rate"], "{:.2f}", counts=False)
            right = _pm(e["final_pseudo_label_accuracy"], counts=False)
            pseudo = f"{confident} / {right}"
        rows.append(
            (
                str(r.arm.budget),
                arm_label(r.arm),
                _pm(r.accuracy),
                r.versus_method.text() if r.arm.info_on else "(baseline)",
                r.versus_supervised.text()
                if (r.arm.info_on or r.arm.method != "supervised")
                else "(baseline)",
                pseudo,
                f"{_pm(e['final_test_mir'], '{:.2f}', counts=False)} / "
                f"{_pm(e['final_test_hdr'], '{:.2f}', counts=False)}",
            )
        )
    caption = (
        "Held-out accuracy at the end of training, mean ± sample std (runs). Gains are paired "
        "by seed: each run minus the run with the identical config except the MIR/HDR weights "
        "set to 0 (same method) or, for 'gain vs CE', also the method set to supervised — same "
        "split, labeled samples, initialisation and batch order. Pseudo-labels: share of the "
        "unlabeled batch above the confidence threshold and share of those that are right, "
        "averaged over the last evaluation interval. MIR/HDR: held-out features against the "
        "head rows of their labels."
    )
    return ComparisonTable(
        "info_loss_accuracy",
        "Test accuracy per arm and label budget",
        caption,
        columns,
        tuple(rows),
        {"arms": [r.record() for r in results]},
    )


def _sensitivity_tables(results: Sequence[ArmResult]) -> list[ComparisonTable]:
    tables = []
    for (method, budget), block_iter in groupby(
        results, key=lambda r: (r.arm.method, r.arm.budget)
    ):
        block = list(block_iter)
        if sum(r.arm.info_on for r in block) < 3:
            continue
        mirs = sorted({r.arm.lambda_mir for r in block})
        hdrs = sorted({r.arm.lambda_hdr for r in block})
        cell = {(r.arm.lambda_mir, r.arm.lambda_hdr): r for r in block}
        rows = []
        for m in mirs:
            cells = [f"λ_mir = {m:g}"]
            for h in hdrs:
                r = cell.get((m, h))
                if r is None:
                    cells.append("")
                elif not r.arm.info_on:
                    cells.append(f"{_pm(r.accuracy)} (baseline)")
                else:
                    cells.append(f"{_pm(r.accuracy)}; gain {r.versus_method.text()}")
            rows.append(tuple(cells))
        name = {"supervised": "CE", "fixmatch": "FixMatch"}.get(method, method)
        tables.append(
            ComparisonTable(
                f"info_loss_lambda_{method}_{budget}",
                f"λ sensitivity: {name}, {budget} labels per class",
                "Test accuracy mean ± std (runs) for each pair of weights, and the seed-paired "
                "gain over the same method without the terms (λ_mir = λ_hdr = 0).",
                ("λ_mir \\ λ_hdr", *(f"λ_hdr = {h:g}" for h in hdrs)),
                tuple(rows),
                {"arms": [r.record() for r in block]},
            )
        )
    return tables


def _verdict_table(results: Sequence[ArmResult]) -> ComparisonTable:
    rows = []
    for r in results:
        if not r.arm.info_on:
            continue
        g = r.versus_method
        rows.append(
            (
                str(r.arm.budget),
                arm_label(r.arm),
                g.text(),
                "—" if g.t is None else f"{g.t:+.2f}",
                "—" if g.p is None else f"{g.p:.3f}",
                g.verdict,
            )
        )
    # Is the gain largest with the fewest labels? For each arm seen at several budgets.
    claims = []
    by_recipe: dict[tuple[str, float, float], list[ArmResult]] = {}
    for r in results:
        if r.arm.info_on:
            by_recipe.setdefault((r.arm.method, r.arm.lambda_mir, r.arm.lambda_hdr), []).append(r)
    for members in by_recipe.values():
        if len(members) < 2:
            continue
        members = sorted(members, key=lambda r: r.arm.budget)
        gains = [m.versus_method.stats.mean for m in members]
        if any(g is None for g in gains):
            continue
        few, many = members[0], members[-1]
        largest_first = gains[0] == max(g for g in gains if g is not None)
        verdict = (
            "yes" if largest_first and few.versus_method.verdict == "gain" else
            "no (the gain is not significant where labels are fewest)" if largest_first else "no"
        )  # fmt: skip
        claims.append(
            (
                "fewest / most labels",
                arm_label(few.arm),
                f"{few.arm.budget}: {few.versus_method.text()}; {many.arm.budget}: "
                f"{many.versus_method.text()}",
                "",
                "",
                f"largest gain at fewest labels: {verdict}",
            )
        )
    return ComparisonTable(
        "info_loss_verdicts",
        "Do the MIR/HDR terms help?",
        "Per arm with the terms on: the seed-paired gain in held-out accuracy over the same "
        "method without them, its paired t statistic and two-sided p (Student's t, n − 1 "
        "degrees of freedom, uncorrected for the number of arms); 'gain'/'loss' when p < 0.05. "
        "Song et al. report gains, largest with few labels: the last rows compare the gain of "
        "each recipe across label budgets.",
        ("labels / class", "arm", "gain", "t", "p", "verdict"),
        tuple(rows + claims),
        {"rows": [list(r) for r in rows + claims]},
    )


def plot_arms(results: Sequence[ArmResult]) -> tuple[Figure, np.ndarray]:
    """Accuracy (left) and seed-paired gain (middle) per arm, clustered by label budget; gain
    against λ for the arms with λ_mir = λ_hdr (right).

    Each arm is a colour; dots are runs, bars mean ± std.
    """
    labels = sorted({arm_label(r.arm) for r in results}, key=lambda s: (not s.startswith("CE"), s))
    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    color = {label: cmap(i % cmap.N) for i, label in enumerate(labels)}
    marker = {label: "s" if label.startswith("CE") else "o" for label in labels}
    budgets = sorted({r.arm.budget for r in results})
    fig = Figure(figsize=(18, 5.2), layout="constrained")
    axes = np.asarray(fig.subplots(1, 3), dtype=object)
    width = 0.8 / max(1, len(labels))
    for panel, ax in enumerate(axes[:2]):
        for r in results:
            label = arm_label(r.arm)
            values = np.asarray(r.accuracies if panel == 0 else r.method_differences)
            if values.size == 0:
                continue
            x = budgets.index(r.arm.budget) + (labels.index(label) - (len(labels) - 1) / 2) * width
            jitter = (
                np.linspace(-width / 4, width / 4, values.size) if values.size > 1 else np.zeros(1)
            )
            ax.scatter(x + jitter, values, s=10, color=color[label], alpha=0.6, lw=0)
            spread = values.std(ddof=1) if values.size > 1 else 0.0
            ax.errorbar(
                x,
                values.mean(),
                yerr=spread,
                fmt=marker[label],
                color=color[label],
                capsize=3,
                ms=5,
            )
        ax.set_xticks(range(len(budgets)), [f"{b} labels / class" for b in budgets])
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_xlim(-0.6, len(budgets) - 0.4)
    axes[0].set_title("held-out accuracy (dots: runs; bars: mean ± std)", fontsize="medium")
    axes[0].set_ylabel("test accuracy")
    axes[1].axhline(0.0, color="0.4", lw=1)
    axes[1].set_title(
        "gain over the same method without MIR/HDR (paired by seed)", fontsize="medium"
    )
    axes[1].set_ylabel("Δ test accuracy")
    handles = [
        axes[0].scatter([], [], color=color[label], marker=marker[label], label=label)
        for label in labels
    ]
    fig.legend(
        handles=handles, loc="outside lower center", ncols=min(4, len(labels)), fontsize="small"
    )
    ax = axes[2]
    ax.axhline(0.0, color="0.4", lw=1)
    drawn = False
    for (method, budget), block_iter in groupby(
        results, key=lambda r: (r.arm.method, r.arm.budget)
    ):
        diagonal = [
            r
            for r in block_iter
            if r.arm.info_on
            and r.arm.lambda_mir == r.arm.lambda_hdr
            and r.versus_method.stats.mean is not None
        ]
        if len(diagonal) < 2:
            continue
        lam = np.array([r.arm.lambda_mir for r in diagonal])
        mean = np.array([r.versus_method.stats.mean for r in diagonal], dtype=float)
        std = np.array([r.versus_method.stats.std or 0.0 for r in diagonal])
        name = {"supervised": "CE", "fixmatch": "FixMatch"}.get(method, method)
        ax.errorbar(
            lam, mean, yerr=std, marker="o", capsize=3, label=f"{name}, {budget} labels/class"
        )
        drawn = True
    ax.set_xscale("log")
    ax.set_xlabel("λ_mir = λ_hdr")
    ax.set_ylabel("Δ test accuracy (mean ± std over seeds)")
    ax.set_title("λ sensitivity: gain against the weight", fontsize="medium")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "fewer than 2 weights with λ_mir = λ_hdr", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    fig.suptitle("MIR/HDR as loss terms with few labels (Song et al. 2024, §6)")
    return fig, axes


def summarize_info_loss(comparison: Comparison) -> ComparisonSummary:
    """The info-loss experiment's own part of a comparison: three kinds of table, one figure."""
    results = arm_results(comparison)
    tables = [_accuracy_table(results), _verdict_table(results), *_sensitivity_tables(results)]
    fig, _ = plot_arms(results)
    figure = ComparisonFigure(
        "info_loss_arms.png",
        "Accuracy and gain per arm",
        "Held-out accuracy of every run per arm and label budget; the seed-paired gain over the "
        "same method without the MIR/HDR terms; and that gain against λ for the arms with "
        "λ_mir = λ_hdr, one line per method and budget.",
        fig,
    )
    return ComparisonSummary(tables=tuple(tables), figures=(figure,))
