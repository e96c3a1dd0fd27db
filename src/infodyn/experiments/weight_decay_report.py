"""The λ study on the comparison page: its tables and Sakamoto & Sato's Figs. 3, 4 and 2.

:func:`summarize_study` is the weight-decay experiment's
:meth:`~infodyn.experiments.base.Experiment.summarize_comparison`: the numbers come from
:mod:`infodyn.experiments.weight_decay_study`, the drawing from :mod:`infodyn.viz.weight_decay`.
:func:`draw_run_margins` is one run's Fig. 2, for its own report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from infodyn.analysis import PowerLawFit
from infodyn.compare.build import Comparison
from infodyn.compare.figures import group_colors
from infodyn.compare.stats import ValueStats
from infodyn.experiments.weight_decay_study import (
    STEP_FMT,
    Study,
    group_band,
    run_value,
    slope_text,
    study,
)
from infodyn.store import RunStore
from infodyn.summary import ComparisonFigure, ComparisonSummary, ComparisonTable, Headline
from infodyn.viz.weight_decay import (
    BandCurve,
    BandPanel,
    MarginSnapshot,
    plot_band_panels,
    plot_margin_snapshots,
)

__all__ = ["draw_run_margins", "margin_snapshots", "summarize_study"]


def _fit_record(fit: PowerLawFit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {"slope": fit.slope, "intercept": fit.intercept, "stderr": fit.stderr, "n": fit.n}


def _delay_table(s: Study) -> ComparisonTable:
    columns = (
        "group", "runs", "memorised at", "t_generalize", "t_rnc1_half",
        "t_rnc1_half / t_generalize", "redundant (MI) half-way", "redundant (nHSIC) half-way",
        "final test acc",
    )  # fmt: skip
    rows = []
    for g in s.groups:
        st = g.stats
        rows.append(
            (
                g.label,
                str(g.n),
                st["fit_step"].text(STEP_FMT, counts=False),
                st["t_generalize"].text(STEP_FMT, counts=False),
                st["t_rnc1_half"].text(STEP_FMT, counts=False),
                g.rnc1_ratio.text("{:.2f}", counts=False),
                st["t_redundant_half"].text(STEP_FMT, counts=False),
                st["t_nhsic_redundant_half"].text(STEP_FMT, counts=False),
                st["final_test_accuracy"].text("{:.3f}", counts=False),
            )
        )
    caption = (
        f"Mean ± sample std over each group's seeds ((n=k of m) when some runs never got "
        f"there). t_generalize: test accuracy at 90 % of its gain from step 0 to the end; "
        f"t_rnc1_half: held-out {s.rnc1} below half its peak; half-way: held-out redundant "
        f"information half-way from its peak to its final value. Slope of log t_generalize "
        f"on log λ: {slope_text(s.slope)}; of log t_rnc1_half: {slope_text(s.rnc1_slope)}. "
        f"Sakamoto & Sato predict a delay ∝ 1/(lr·λ), slope −1."
    )

    def stats_record(v: ValueStats) -> dict[str, Any]:
        return {"mean": v.mean, "std": v.std, "n": v.n, "total": v.total}

    record = {
        "slope": _fit_record(s.slope),
        "rnc1_slope": _fit_record(s.rnc1_slope),
        "groups": [
            {
                "label": g.label,
                "weight_decay": g.weight_decay,
                **{k: stats_record(v) for k, v in g.stats.items()},
                "rnc1_ratio": stats_record(g.rnc1_ratio),
            }
            for g in s.groups
        ],
    }
    return ComparisonTable(
        "delays", "Delay to generalisation per weight decay", caption, columns, tuple(rows), record
    )


def _claims_table(s: Study) -> ComparisonTable:
    rows = tuple((f"({c.key}) {c.text}", c.verdict, c.evidence) for c in s.claims)
    record = {"claims": [{"key": c.key, "claim": c.text, "verdict": c.verdict} for c in s.claims]}
    caption = (
        "Sakamoto & Sato's claims, judged on these runs by the rules of "
        "infodyn.experiments.weight_decay_study (thresholds stated with the numbers)."
    )
    return ComparisonTable(
        "claims", "What reproduces", caption, ("claim", "verdict", "numbers"), rows, record
    )


def _curves(
    comparison: Comparison, metric: str, split: str, linestyle: str
) -> tuple[BandCurve, ...]:
    colors = group_colors(len(comparison.groups))
    out = []
    for result, color in zip(comparison.groups, colors, strict=True):
        b = group_band(result, metric, split)
        if b is not None:
            out.append(BandCurve(b.steps, b.mean, b.lower, b.upper, color, linestyle, b.n))
    return tuple(out)


def _panel(
    comparison: Comparison,
    title: str,
    ylabel: str,
    series: Sequence[tuple[str, str, str]],
    log_y: bool,
) -> BandPanel:
    curves = tuple(c for m, s, ls in series for c in _curves(comparison, m, s, ls))
    return BandPanel(title, ylabel, curves, log_y)


def _figures(comparison: Comparison, s: Study) -> list[ComparisonFigure]:
    groups = list(
        zip(
            [r.group.label for r in comparison.groups],
            group_colors(len(comparison.groups)),
            strict=True,
        )
    )
    note = "Curves use only the steps every run of a group recorded (never interpolated)."
    fig3, _ = plot_band_panels(
        [
            _panel(
                comparison,
                "accuracy",
                "accuracy",
                [("accuracy", "test", "-"), ("accuracy", "train", "--")],
                False,
            ),
            _panel(comparison, f"{s.rnc1} (training set)", s.rnc1, [(s.rnc1, "train", "-")], True),
            _panel(
                comparison, "nc2_cond (training set)", "cond(M)", [("nc2_cond", "train", "-")], True
            ),
        ],
        groups,
        [("test accuracy", "-"), ("train accuracy", "--")],
        f"Fig. 3 — test accuracy, {s.rnc1} and NC2 against step, per weight decay",
        note=note,
    )
    fig4, _ = plot_band_panels(
        [
            _panel(
                comparison, f"{s.redundant} (held-out)", "nats", [(s.redundant, "test", "-")], False
            ),
            _panel(
                comparison,
                "nhsic_redundant (held-out)",
                "nHSIC(Z;X) − nHSIC(Z;Y)",
                [("nhsic_redundant", "test", "-")],
                False,
            ),
            _panel(
                comparison,
                f"{s.rnc1} (held-out: population variance)",
                s.rnc1,
                [(s.rnc1, "test", "-")],
                True,
            ),
        ],
        groups,
        [],
        "Fig. 4 — redundant information by MI and by nHSIC, and RNC1, per weight decay",
        note=note,
    )
    mi = (
        "Kozachenko–Leonenko (the authors' estimator)"
        if s.redundant.endswith("_kl")
        else "KSG/Ross (infodyn's default)"
    )
    figures = [
        ComparisonFigure(
            "fig3_accuracy_rnc1_nc2.png",
            "Fig. 3: accuracy, RNC1, NC2",
            f"Sakamoto & Sato's Fig. 3 on these runs: test accuracy (solid) with train accuracy "
            f"(dashed), {s.rnc1} and nc2_cond = cond(class means) of the training set, one "
            f"colour per group; mean ± 1 std over seeds.",
            fig3,
        ),
        ComparisonFigure(
            "fig4_redundant_information.png",
            "Fig. 4: redundant information and RNC1",
            f"Sakamoto & Sato's Fig. 4 on these runs, held-out samples: I(Z;X) − I(Z;Y) by "
            f"{mi} on whitened 4-d PCA projections, in nats; nHSIC(Z;X) − nHSIC(Z;Y) (batches "
            f"of 100); {s.rnc1}. Mean ± 1 std over seeds.",
            fig4,
        ),
    ]
    margin = _margin_figure(comparison)
    if margin is not None:
        figures.append(margin)
    return figures


def margin_snapshots(
    store: RunStore, targets: Sequence[tuple[str, int | None]]
) -> list[MarginSnapshot | None]:
    """The recorded class-pair margins nearest (in log step) to each target step.

    Args:
        store: A weight-decay run's store (arrays ``margins_a``/``margins_b`` per split).
        targets: ``(label, step)``; ``step=None`` or no margins recorded gives None.

    Returns:
        One snapshot (or None) per target, at the recorded step nearest to the target.
    """
    records = {
        (a.metric, a.split, a.step): a.value
        for a in store.arrays()
        if a.metric.startswith("margins_")
    }
    steps = sorted(
        {st for (m, sp, st) in records if m == "margins_a" and sp == "train"}
        & {st for (m, sp, st) in records if m == "margins_a" and sp == "test"}
    )
    out: list[MarginSnapshot | None] = []
    for label, target in targets:
        if target is None or not steps:
            out.append(None)
            continue
        step = min(steps, key=lambda st: abs(math.log1p(st) - math.log1p(target)))
        out.append(
            MarginSnapshot(
                label,
                step,
                *(
                    records.get((f"margins_{c}", sp, step), np.array([]))
                    for sp in ("train", "test")
                    for c in "ab"
                ),
            )
        )
    return out


def _targets(store: RunStore, fit: float | None) -> list[tuple[str, int | None]]:
    last = store.last_step()
    return [("memorised", None if fit is None else int(fit)), ("end of training", last)]


def draw_run_margins(
    store: RunStore, headlines: Sequence[Headline], class_pair: tuple[int, int]
) -> tuple[Any, Any]:
    """One run's Fig. 2: margins at its memorisation step and at its last step."""
    fit = next((h.value for h in headlines if h.key == "fit_step"), None)
    snaps = margin_snapshots(store, _targets(store, fit))
    a, b = class_pair
    return plot_margin_snapshots([("", snaps)], class_pair, f"Margins to the {a}-vs-{b} boundary")


def _margin_figure(comparison: Comparison) -> ComparisonFigure | None:
    rows = []
    pair: tuple[int, int] = (0, 1)
    for result in comparison.groups:
        run = result.group.runs[0]
        a, b = run.config.get("monitor", {}).get("class_pair", (0, 1))
        pair = (int(a), int(b))
        fit = run_value(run, "fit_step")
        with run.run.store(readonly=True) as store:
            snaps = margin_snapshots(store, _targets(store, fit))
        if any(s is not None for s in snaps):
            rows.append((result.group.label, snaps))
    if not rows:
        return None
    fig, _ = plot_margin_snapshots(
        rows, pair, f"Fig. 2 — margins to the {pair[0]}-vs-{pair[1]} boundary, per weight decay"
    )
    return ComparisonFigure(
        "fig2_margins.png",
        "Fig. 2: margins",
        f"Sakamoto & Sato's Fig. 2 on these runs: signed distances (⟨w_a − w_b, h⟩ + b_a − b_b)/"
        f"‖w_a − w_b‖ of the class-{pair[0]} and class-{pair[1]} samples, training (left "
        f"halves) and held-out (right halves), at the memorisation step (the recorded step "
        f"nearest to train accuracy ≥ 0.99) and at the end; the first run (seed) of each group.",
        fig,
    )


def summarize_study(comparison: Comparison) -> ComparisonSummary:
    """The weight-decay experiment's own part of a comparison: two tables, Figs. 3, 4, 2."""
    s = study(comparison)
    return ComparisonSummary(
        tables=(_claims_table(s), _delay_table(s)), figures=tuple(_figures(comparison, s))
    )
