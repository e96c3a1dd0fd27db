"""The λ study of the weight-decay experiment: delays per λ, their scaling, what reproduces.

Across the runs of ``infodyn compare`` (typically ``infodyn sweep weight-decay --grid
optim.weight_decay=… --seeds 5``), :func:`summarize_study` computes

* per group (one λ): the memorisation step, ``t_generalize``, ``t_rnc1_half`` and the steps at
  which the redundant information has fallen half-way, mean ± std over seeds, and the ratios
  that the claims are judged on;
* the least-squares slope of log t_generalize against log λ over all runs — Sakamoto & Sato
  predict a delay ∝ 1/(lr·λ), slope −1;
* a verdict per claim of the paper, with the numbers behind it (:data:`CLAIMS`);

shown as tables and Figs. 3, 4 and 2 by :mod:`infodyn.experiments.weight_decay_report`.

The verdict rules are infodyn's (the paper states its claims qualitatively):

(a) *larger weight decay shortens the delay*: **reproduced** when the groups' mean
    t_generalize falls strictly as λ grows and the slope is negative by more than two
    standard errors; **partly** when only one of the two holds.
(b) *RNC1 falls with or before the test-accuracy rise*: per run r = t_rnc1_half /
    t_generalize; **reproduced** when the median r of every group is ≤ 1.5 (with: within
    the ~30 % spacing of the measurement steps; before: < 1), **partly** when some groups.
(c) *redundant information falls with RNC1*: per run, the step at which it has fallen
    half-way from its peak to its final value, over t_rnc1_half; **reproduced** for an
    estimator when in every group it fell by ≥ 20 % of its peak and the median ratio lies in
    [1/2, 2]; reported per estimator (MI and nHSIC), **partly** when one of them or only
    some groups.

Beside (b) and (c) the evidence gives the same ratios with NC1_trace = V_W/V_B (the authors'
code's ``nc1_score``) in place of RNC1, for context: RNC1 divides V_W by the squared feature
norm, which weight decay shrinks too, so the two can disagree on when collapse happens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from infodyn.analysis import PowerLawFit, power_law_fit
from infodyn.compare.build import Comparison, GroupResult
from infodyn.compare.stats import SeedBand, ValueStats, value_stats
from infodyn.metrics.collapse import rnc1_key
from infodyn.metrics.information_plane import information_plane_keys
from infodyn.summary import Claim, Headline

__all__ = [
    "CLAIMS",
    "STEP_FMT",
    "Claim",
    "GroupDelays",
    "Study",
    "group_band",
    "run_value",
    "slope_text",
    "study",
]

#: The paper's claims judged here, by key.
CLAIMS = {
    "a": "larger weight decay shortens the delay to generalisation",
    "b": "RNC1 (held-out) falls with or before the rise of test accuracy",
    "c": "redundant information I(Z;X) − I(Z;Y) falls with RNC1",
}
#: Claim (b): largest median t_rnc1_half / t_generalize that still counts as "with".
RNC1_WITH = 1.5
#: Claim (c): the redundant information must fall by this share of its peak…
REDUNDANT_MIN_FALL = 0.2
#: …and be half-way down within this factor of t_rnc1_half.
REDUNDANT_WITHIN = 2.0
#: Number format of a step.
STEP_FMT = "{:,.0f}"


@dataclass(frozen=True)
class GroupDelays:
    """One group's steps and ratios across its runs.

    Attributes:
        label: The group's label (e.g. ``weight_decay=0.01``).
        weight_decay: The λ its runs share, or None when they differ.
        n: Runs in the group.
        stats: Per headline key, its statistics over the runs.
        rnc1_ratio: Per run t_rnc1_half / t_generalize.
        redundant_ratio: Per estimator key (``"mi"``, ``"nhsic"``), per run the half-way step
            of the redundant information over t_rnc1_half.
        redundant_fall: Per estimator key, the fall of the group's mean held-out curve from
            its peak to its final value, as a share of the peak (None when not recorded).
    """

    label: str
    weight_decay: float | None
    n: int
    stats: dict[str, ValueStats]
    rnc1_ratio: ValueStats
    redundant_ratio: dict[str, ValueStats]
    redundant_fall: dict[str, float | None]


@dataclass(frozen=True)
class Study:
    """Everything :func:`summarize_study` shows.

    Attributes:
        groups: Per group, in the comparison's order.
        slope: Fit of log t_generalize on log λ over every run that generalised.
        rnc1_slope: The same for t_rnc1_half.
        claims: Verdicts of claims (a), (b), (c).
        rnc1: The stored RNC1 name (``rnc1`` or ``rnc1_max``).
        redundant: The stored redundant-information name (``redundant_information`` or
            ``…_kl``).
    """

    groups: tuple[GroupDelays, ...]
    slope: PowerLawFit | None
    rnc1_slope: PowerLawFit | None
    claims: tuple[Claim, ...]
    rnc1: str
    redundant: str


def run_value(run: Any, key: str) -> float | None:
    """A compared run's headline value ``key``, or None when the run has no such value."""
    h: Headline | None = run.summary.headline(key)
    return None if h is None else h.value


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def group_band(result: GroupResult, metric: str, split: str) -> SeedBand | None:
    """A group's band of ``metric`` on ``split`` (whatever its layer), or None."""
    return next((b for (m, s, _), b in result.bands.items() if m == metric and s == split), None)


def _fall(band: SeedBand | None) -> float | None:
    if band is None or not np.isfinite(band.mean).any():
        return None
    peak = float(np.nanmax(band.mean))
    final = float(band.mean[-1])
    return (peak - final) / abs(peak) if peak != 0 and math.isfinite(final) else None


def _weight_decay(config: dict[str, Any]) -> float | None:
    value = config.get("optim", {}).get("weight_decay")
    return float(value) if isinstance(value, int | float) else None


def _group(result: GroupResult, redundant: str) -> GroupDelays:
    runs = result.group.runs
    decays = {_weight_decay(r.config) for r in runs}
    keys = ("fit_step", "t_generalize", "t_rnc1_half", "t_redundant_half")
    stats = {k: value_stats([run_value(r, k) for r in runs]) for k in keys}
    stats["t_nhsic_redundant_half"] = value_stats(
        [run_value(r, "t_nhsic_redundant_half") for r in runs]
    )
    for key in ("t_nc1_trace_half", "final_test_accuracy"):
        stats[key] = value_stats([run_value(r, key) for r in runs])
    rnc1_ratio = value_stats(
        [_ratio(run_value(r, "t_rnc1_half"), run_value(r, "t_generalize")) for r in runs]
    )
    redundant_ratio = {
        est: value_stats([_ratio(run_value(r, key), run_value(r, "t_rnc1_half")) for r in runs])
        for est, key in (("mi", "t_redundant_half"), ("nhsic", "t_nhsic_redundant_half"))
    }
    redundant_fall = {
        "mi": _fall(group_band(result, redundant, "test")),
        "nhsic": _fall(group_band(result, "nhsic_redundant", "test")),
    }
    return GroupDelays(
        result.group.label,
        decays.pop() if len(decays) == 1 else None,
        result.n,
        stats,
        rnc1_ratio,
        redundant_ratio,
        redundant_fall,
    )


def _median(runs: Sequence[Any], num: str, den: str) -> float | None:
    ratios = [_ratio(run_value(r, num), run_value(r, den)) for r in runs]
    present = [x for x in ratios if x is not None]
    return float(np.median(present)) if present else None


def _fmt(x: float | None, pattern: str = "{:.3g}") -> str:
    return "—" if x is None or not math.isfinite(x) else pattern.format(x)


def slope_text(fit: PowerLawFit | None) -> str:
    """``−0.84 ± 0.03 over 8 runs``, or why there is no fit."""
    if fit is None:
        return "no fit (needs runs at ≥ 2 weight decays that generalised)"
    err = f" ± {fit.stderr:.2f}" if fit.stderr is not None else ""
    return f"{fit.slope:.2f}{err} over {fit.n} runs".replace("-", "−")  # the minus sign


def _claim_a(groups: Sequence[GroupDelays], slope: PowerLawFit | None) -> Claim:
    decays = sorted((g.weight_decay, i) for i, g in enumerate(groups) if g.weight_decay is not None)
    ordered = [groups[i] for _, i in decays]
    found = [g.stats["t_generalize"].mean for g in ordered]
    means = [m for m in found if m is not None]
    if len(ordered) < 2 or len(means) < len(found) or slope is None:
        return Claim("a", CLAIMS["a"], "not measured", "needs ≥ 2 weight decays that generalised")
    monotone = all(a > b for a, b in pairwise(means))
    significant = slope.slope < 0 and (slope.stderr is None or slope.slope + 2 * slope.stderr < 0)
    verdict = (
        "reproduced"
        if monotone and significant
        else ("partly" if monotone or significant else "not reproduced")
    )
    pairs = ", ".join(
        f"λ={g.weight_decay:g}: {_fmt(m, STEP_FMT)}" for g, m in zip(ordered, means, strict=True)
    )
    evidence = (
        f"mean t_generalize {pairs}; slope of log t_generalize on log λ "
        f"{slope_text(slope)} (paper: −1)"
    )
    return Claim("a", CLAIMS["a"], verdict, evidence)


def _claim_b(
    groups: Sequence[GroupDelays],
    medians: Sequence[float | None],
    nc1_trace: Sequence[float | None],
) -> Claim:
    if all(m is None for m in medians):
        return Claim(
            "b", CLAIMS["b"], "not measured", "no run has both t_rnc1_half and t_generalize"
        )
    held = [m is not None and m <= RNC1_WITH for m in medians]
    verdict = "reproduced" if all(held) else ("partly" if any(held) else "not reproduced")
    parts = ", ".join(
        f"{g.label}: {_fmt(m, '{:.2f}')}" for g, m in zip(groups, medians, strict=True)
    )
    context = ", ".join(
        f"{g.label}: {_fmt(m, '{:.2f}')}" for g, m in zip(groups, nc1_trace, strict=True)
    )
    evidence = (
        f"median t_rnc1_half / t_generalize per group {parts} (≤ {RNC1_WITH:g} counts as "
        f"with, < 1 as before)"
    )
    if any(m is not None for m in nc1_trace):
        evidence += (
            f"; for comparison, held-out nc1_trace = V_W/V_B below half its peak, over "
            f"t_generalize: {context}"
        )
    return Claim("b", CLAIMS["b"], verdict, evidence)


def _claim_c(
    groups: Sequence[GroupDelays],
    medians: dict[str, list[float | None]],
    nc1_trace: dict[str, list[float | None]],
    redundant: str,
) -> Claim:
    names = {"mi": f"MI ({redundant})", "nhsic": "nHSIC"}
    held_by: dict[str, list[bool]] = {}
    texts = []
    for est, per_group in medians.items():
        falls = [g.redundant_fall[est] for g in groups]
        held_by[est] = [
            m is not None
            and f is not None
            and f >= REDUNDANT_MIN_FALL
            and 1 / REDUNDANT_WITHIN <= m <= REDUNDANT_WITHIN
            for m, f in zip(per_group, falls, strict=True)
        ]
        detail = ", ".join(
            f"{g.label}: fell {_fmt(None if f is None else 100 * f, '{:.0f}')} %, "
            f"ratio {_fmt(m, '{:.2f}')}"
            for g, m, f in zip(groups, per_group, falls, strict=True)
        )
        if any(m is not None for m in nc1_trace[est]):
            context = ", ".join(_fmt(m, "{:.2f}") for m in nc1_trace[est])
            detail += f" (over t_nc1_trace_half instead: {context})"
        texts.append(f"{names[est]} — {detail}")
    if all(all(m is None for m in v) for v in medians.values()):
        return Claim("c", CLAIMS["c"], "not measured", "no redundant information recorded")
    every = [all(h) for h in held_by.values()]
    some = [any(h) for h in held_by.values()]
    verdict = "reproduced" if all(every) else ("partly" if any(some) else "not reproduced")
    evidence = (
        "; ".join(texts)
        + f" (fall from the mean curve's peak to its end; ratio = median half-way step / "
        f"t_rnc1_half; counts when it fell ≥ {REDUNDANT_MIN_FALL:.0%} and the ratio is within "
        f"×{REDUNDANT_WITHIN:g})"
    )
    return Claim("c", CLAIMS["c"], verdict, evidence)


def study(comparison: Comparison) -> Study:
    """The λ study's numbers from a comparison of weight-decay runs."""
    first = comparison.loaded.runs[0].config.get("monitor", {})
    rnc1 = rnc1_key(first.get("rnc1_norm", "mean"))
    redundant = information_plane_keys(first.get("mi_estimator", "ksg"))[2]
    groups = tuple(_group(r, redundant) for r in comparison.groups)
    runs = comparison.loaded.runs

    def missing_as_nan(values: Sequence[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    lam = missing_as_nan([_weight_decay(r.config) for r in runs])

    def steps(key: str) -> np.ndarray:
        return missing_as_nan([run_value(r, key) for r in runs])

    slope = power_law_fit(lam, steps("t_generalize"))
    rnc1_slope = power_law_fit(lam, steps("t_rnc1_half"))
    b_medians = [_median(r.group.runs, "t_rnc1_half", "t_generalize") for r in comparison.groups]
    nc1_medians = [
        _median(r.group.runs, "t_nc1_trace_half", "t_generalize") for r in comparison.groups
    ]
    redundant_keys = (("mi", "t_redundant_half"), ("nhsic", "t_nhsic_redundant_half"))
    c_medians = {
        est: [_median(r.group.runs, key, "t_rnc1_half") for r in comparison.groups]
        for est, key in redundant_keys
    }
    c_nc1_medians = {
        est: [_median(r.group.runs, key, "t_nc1_trace_half") for r in comparison.groups]
        for est, key in redundant_keys
    }
    claims = (
        _claim_a(groups, slope),
        _claim_b(groups, b_medians, nc1_medians),
        _claim_c(groups, c_medians, c_nc1_medians, redundant),
    )
    return Study(groups, slope, rnc1_slope, claims, rnc1, redundant)
