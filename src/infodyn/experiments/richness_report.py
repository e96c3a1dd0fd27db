"""The richness experiments on the comparison page: the D_LR table, the verdicts, the figures.

:func:`summarize_richness` is the
:meth:`~infodyn.experiments.base.Experiment.summarize_comparison` of ``lazy-rich`` and
``richness-study``: a table of what reproduces (:mod:`infodyn.experiments.richness_claims`), the
D_LR table per setting in the shape of Nam et al.'s Table 2 (mean ± sd over seeds of the final
D_LR on the training subset and on the test subset, the accuracies, and the baselines S_init
and ‖θ‖²/‖θ_0‖²), the three spectral panels per setting (their Figs. 1, 3, 4: the mean over
seeds of each run's final curves), and the final values against the learning rate (or per
setting when no learning rate varies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps

from infodyn.compare.build import Comparison
from infodyn.compare.figures import group_colors
from infodyn.compare.stats import ValueStats
from infodyn.experiments.richness_claims import (
    Claim,
    Setting,
    d_lr_key,
    factor_text,
    judge,
    settings,
)
from infodyn.report import flatten_config
from infodyn.summary import ComparisonFigure, ComparisonSummary, ComparisonTable
from infodyn.viz.richness_settings import (
    SettingCurves,
    SettingPanel,
    SettingSeries,
    final_richness_curves,
    plot_richness_settings,
    plot_setting_values,
)

__all__ = ["summarize_richness"]

#: The table's columns after the setting: (headline key or "{d_lr}", heading, format).
_COLUMNS = (
    ("{d_lr}", "D_LR (train subset)", "{:.4f}"),
    ("{d_lr}_test", "D_LR (test subset)", "{:.4f}"),
    ("final_train_accuracy", "train acc", "{:.3f}"),
    ("final_test_accuracy", "test acc", "{:.3f}"),
    ("final_s_init", "S_init", "{:.3f}"),
    ("final_param_norm_ratio", "‖θ‖²/‖θ_0‖²", "{:.3g}"),
)


def _record(v: ValueStats | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"mean": v.mean, "std": v.std, "n": v.n, "total": v.total}


def _reason(state: str, error: str | None) -> str:
    """``died at step 4,307``, ``diverged at step 12`` or the run's state."""
    first = (error or "").splitlines()[0] if error else ""
    step = re.search(r"at step (\d+)", first)
    for word in ("died", "diverged"):
        if word in first:
            return f"{word} at step {int(step.group(1)):,}" if step else word
    return state


def unfinished(comparison: Comparison) -> dict[str, list[str]]:
    """The sweep runs left out (failed, pending, running), by the label their group would have
    had, each as a short reason (``died at step 4,307``).

    A skipped run's config is read from its directory (written when the run started); one that
    has none is listed under its own name.
    """
    short = {k: k.rsplit(".", 1)[-1] for k in comparison.keys}
    out: dict[str, list[str]] = {}
    for skipped in comparison.loaded.skipped:
        sweep_name, _, run_name = skipped.name.partition("/")
        label = skipped.name
        for root in comparison.loaded.inputs:
            config = root / run_name / "config.json"
            if root.resolve().name == sweep_name and config.is_file():
                flat = dict(flatten_config(json.loads(config.read_text(encoding="utf-8"))))
                label = ", ".join(
                    f"{short[k]}={json.dumps(flat[k])}" for k in comparison.keys if k in flat
                )
                break
        out.setdefault(label, []).append(_reason(skipped.state, skipped.error))
    return out


def _d_lr_table(comparison: Comparison, items: Sequence[Setting], key: str) -> ComparisonTable:
    keys = [k.format(d_lr=key) for k, _, _ in _COLUMNS]
    columns = ("setting", "runs", *(heading for _, heading, _ in _COLUMNS))
    left_out = unfinished(comparison)

    def runs(label: str, n: int) -> str:
        reasons = left_out.get(label, [])
        return f"{n} of {n + len(reasons)} ({'; '.join(reasons)})" if reasons else str(n)

    rows = [
        (
            s.label,
            runs(s.label, s.n),
            *(
                s.stats[k].text(fmt, counts=False) if k in s.stats else "—"
                for k, (_, _, fmt) in zip(keys, _COLUMNS, strict=True)
            ),
        )
        for s in items
    ]
    known = {s.label for s in items}
    rows += [
        (label, runs(label, 0), *("—" for _ in _COLUMNS))
        for label in left_out
        if label not in known
    ]
    reading = "the paper's span{f̂_c}" if key == "final_d_lr" else "span{1, f̂_c}"
    caption = (
        f"Mean ± sample sd over each setting's seeds, at the last step. D_LR ({reading}; 0 "
        f"richest, 1 laziest) on the fixed training subset — the paper's convention — and on a "
        f"test subset beside it, in eval mode (BatchNorm's running statistics); S_init = linear "
        f"CKA between the features now and at initialisation on the training subset; "
        f"‖θ‖²/‖θ_0‖² the squared parameter norm relative to initialisation. Runs that did not "
        f"finish are counted in the runs column with the reason (a run past the stability "
        f"limit fails: 'died' = features constant across samples, 'diverged' = non-finite "
        f"loss; its error.txt has the message)."
    )
    record = {
        "d_lr_key": key,
        "settings": [
            {"label": s.label, "runs": s.n, "factors": s.factors}
            | {k: _record(s.stats.get(k)) for k in keys}
            for s in items
        ],
        "unfinished": left_out,
    }
    return ComparisonTable("d_lr", "D_LR per setting", caption, columns, tuple(rows), record)


def _claims_table(claims: Sequence[Claim]) -> ComparisonTable:
    rows = tuple((c.text, c.verdict, c.evidence) for c in claims)
    record = {
        "claims": [
            {"key": c.key, "claim": c.text, "verdict": c.verdict, "evidence": c.evidence}
            for c in claims
        ]
    }
    caption = (
        "Nam et al.'s claims that these runs vary the factor of, judged by the rules of "
        "infodyn.experiments.richness_claims: a difference is clear beyond 2 standard errors "
        "over seeds."
    )
    return ComparisonTable(
        "claims", "What reproduces", caption, ("claim", "verdict", "numbers"), rows, record
    )


def _final_curves(run: Any, split: str) -> dict[str, np.ndarray]:
    with run.run.store(readonly=True) as store:
        return final_richness_curves(store, split)


def _num_classes(comparison: Comparison) -> int | None:
    run = comparison.loaded.runs[0]
    with run.run.store(readonly=True) as store:
        values = [r.value for r in store.scalars(metric="num_classes")]
    return int(values[-1]) if values else None


def _styles(items: Sequence[Setting]) -> list[tuple[object, str]]:
    """Colour by learning rate (viridis, when it varies) and line style by BatchNorm."""
    lrs = sorted({s.factors["lr"] for s in items if "lr" in s.factors})
    if len(lrs) > 1:
        cmap = colormaps["viridis"]
        shade = {lr: cmap(x) for lr, x in zip(lrs, np.linspace(0.0, 0.85, len(lrs)), strict=True)}
        return [
            (shade[s.factors["lr"]], "-" if s.factors.get("batchnorm", True) else "--")
            for s in items
        ]
    return [(c, "-") for c in group_colors(len(items))]


def _rows(items: Sequence[Setting]) -> list[tuple[str, list[int]]]:
    """Figure rows: one per BatchNorm value when it varies, else one with every setting."""
    values = sorted({s.factors["batchnorm"] for s in items if "batchnorm" in s.factors})
    if len(values) > 1:
        return [
            (
                f"batchnorm={str(v).lower()}",
                [i for i, s in enumerate(items) if s.factors.get("batchnorm") == v],
            )
            for v in values
        ]
    return [("", list(range(len(items))))]


def _panels_figure(
    comparison: Comparison, items: Sequence[Setting], key: str, split: str
) -> ComparisonFigure:
    styles = _styles(items)
    curves = [
        [_final_curves(run, split) for run in result.group.runs] for result in comparison.groups
    ]
    rows = []
    for title, members in _rows(items):
        row = []
        for i in members:
            d = items[i].stats.get(key if split == "train" else f"{key}_test")
            label = f"{items[i].label} — D_LR {d.text('{:.3f}', counts=False) if d else '—'}"
            row.append(SettingCurves(label, [c for c in curves[i] if c], *styles[i]))
        rows.append((title, row))
    where = "training subset" if split == "train" else "test subset"
    fig, _ = plot_richness_settings(
        rows,
        num_classes=_num_classes(comparison),
        title=f"Spectral view per setting, final checkpoint, {where} (mean of seeds, min–max "
        f"shaded)",
    )
    return ComparisonFigure(
        f"richness_panels_{split}.png",
        f"The three panels per setting ({where})",
        f"Nam et al.'s three panels for each setting's final checkpoint on the {where}: "
        f"cumulative quality Π*(k) (targets carried by the top k eigenfunctions of ΦᵀΦ/n), "
        f"cumulative utilisation Π̂(k) (the learned outputs carried by them) and the relative "
        f"feature norms ρ_k/ρ_1; the mean over the setting's seeds, their min–max shaded; "
        f"dotted line at k = C. Rich: Π̂ saturates by k ≈ C and ρ_k/ρ_1 drops after ~C modes.",
        fig,
    )


def _series(
    items: Sequence[Setting], members: Sequence[int], key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd over seeds of headline ``key`` for each member (NaN where absent)."""
    stats = [items[i].stats.get(key) for i in members]
    mean = [np.nan if s is None or s.mean is None else s.mean for s in stats]
    std = [np.nan if s is None else (s.std or 0.0) for s in stats]
    return np.array(mean, dtype=float), np.array(std, dtype=float)


def _values_figure(items: Sequence[Setting], key: str) -> ComparisonFigure:
    lrs = {s.factors.get("lr") for s in items}
    by_lr = len(lrs) > 1 and None not in lrs
    quantities = (
        (key, "D_LR (train subset)", "D_LR"),
        ("final_test_accuracy", "test accuracy", "accuracy"),
        ("final_s_init", "S_init (CKA to initial features)", "S_init"),
        ("final_param_norm_ratio", "‖θ‖²/‖θ_0‖²", "ratio"),
    )
    lines: dict[str, list[int]] = {}
    for i, s in enumerate(items):
        rest = factor_text(s.factors, "lr") if by_lr else "settings"
        lines.setdefault(rest, []).append(i)
    colors = group_colors(len(lines))
    panels = []
    for qkey, title, ylabel in quantities:
        series = []
        for (rest, members), color in zip(lines.items(), colors, strict=True):
            members = (
                sorted(members, key=lambda i: items[i].factors.get("lr", 0)) if by_lr else members
            )
            x = np.array(
                [items[i].factors["lr"] for i in members] if by_lr else range(len(members)),
                dtype=float,
            )
            mean, std = _series(items, members, qkey)
            if by_lr:
                series.append(SettingSeries(rest, x, mean, std, color))
            else:  # categorical settings: points, no line between them, no legend
                series.append(SettingSeries("_settings", x, mean, std, color, "none"))
        panels.append(SettingPanel(title, ylabel, series, log_y=qkey == "final_param_norm_ratio"))
    fig, _ = plot_setting_values(
        panels,
        xlabel="learning rate" if by_lr else "setting",
        log_x=by_lr,
        xticklabels=None if by_lr else [s.label for s in items],
        title="Final values per setting (mean ± sd over seeds)",
    )
    return ComparisonFigure(
        "richness_values.png",
        "D_LR, accuracy and the baselines per setting",
        "The final D_LR on the training subset, test accuracy, S_init and ‖θ‖²/‖θ_0‖² per "
        + ("learning rate, one line per other setting" if by_lr else "setting")
        + "; mean ± sample sd over seeds as error bars.",
        fig,
    )


def summarize_richness(comparison: Comparison) -> ComparisonSummary:
    """The richness experiments' part of a comparison: claims, D_LR table, two figures."""
    items = settings(comparison)
    key = d_lr_key(items)
    claims = judge(items)
    tables = ([_claims_table(claims)] if claims else []) + [_d_lr_table(comparison, items, key)]
    figures = [
        _panels_figure(comparison, items, key, "train"),
        _panels_figure(comparison, items, key, "test"),
        _values_figure(items, key),
    ]
    return ComparisonSummary(tables=tuple(tables), figures=tuple(figures))
