"""The numbers of the info-loss study: accuracy per arm and label budget, seed-paired gains.

An *arm* is a method with its matrix-information weights, ``(method, λ_mir, λ_hdr)``; a
*budget* is ``data.labels_per_class``. Runs of one arm and budget differ by seed (and anything
else swept). A run's **gain** is its final held-out accuracy minus that of its *partner*: the
run whose config is identical except for the info weights (set to 0) — the same method with
the same seed, hence the same split, labeled samples, initialisation and batch order — or,
for the gain over supervised cross-entropy, except for ``method`` too. Pairing removes the
seed-to-seed spread of few-label training (which labeled samples were drawn), the dominant
noise here.

A gain is called a **gain** (or a **loss**) when its paired t statistic, mean/(std/√n), lies
beyond the two-sided 5 % critical value of Student's t with n − 1 degrees of freedom
(uncorrected for the number of arms); otherwise **no detectable change**.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as scipy_stats

from infodyn.compare.build import Comparison
from infodyn.compare.load import ComparedRun
from infodyn.compare.stats import ValueStats, value_stats
from infodyn.report import flatten_config

__all__ = ["Arm", "ArmResult", "Gain", "arm_label", "arm_results", "run_arm"]

_INFO_KEYS = ("info.lambda_mir", "info.lambda_hdr")


@dataclass(frozen=True, order=True)
class Arm:
    """A training recipe: the method and its two matrix-information weights, at one budget."""

    budget: int
    method_rank: int
    lambda_mir: float
    lambda_hdr: float
    method: str

    @property
    def info_on(self) -> bool:
        return self.lambda_mir > 0 or self.lambda_hdr > 0


def arm_label(arm: Arm) -> str:
    """``FixMatch``, ``FixMatch + MIR/HDR (0.5, 0.5)``, ``CE + HDR (0.1)`` …

    Example:
        >>> arm_label(Arm(4, 1, 0.5, 0.0, "fixmatch"))
        'FixMatch + MIR (λ_mir 0.5)'
    """
    base = {"supervised": "CE", "fixmatch": "FixMatch"}.get(arm.method, arm.method)
    if arm.lambda_mir > 0 and arm.lambda_hdr > 0:
        return f"{base} + MIR/HDR (λ {arm.lambda_mir:g}, {arm.lambda_hdr:g})"
    if arm.lambda_mir > 0:
        return f"{base} + MIR (λ_mir {arm.lambda_mir:g})"
    if arm.lambda_hdr > 0:
        return f"{base} + HDR (λ_hdr {arm.lambda_hdr:g})"
    return base


def run_arm(run: ComparedRun) -> Arm:
    """The arm and budget of a run, from its config."""
    c = run.config
    method = str(c.get("method", "fixmatch"))
    info = c.get("info", {})
    return Arm(
        int(c.get("data", {}).get("labels_per_class", 0)),
        0 if method == "supervised" else 1,
        float(info.get("lambda_mir", 0.0)),
        float(info.get("lambda_hdr", 0.0)),
        method,
    )


def _headline(run: ComparedRun, key: str) -> float | None:
    h = run.summary.headline(key)
    return None if h is None or h.value is None else float(h.value)


def _partner_key(run: ComparedRun, drop: Sequence[str]) -> tuple[tuple[str, str], ...]:
    flat = dict(flatten_config(run.config))
    return tuple(sorted((k, repr(v)) for k, v in flat.items() if k not in drop))


@dataclass(frozen=True)
class Gain:
    """Seed-paired accuracy differences: their stats, paired t, two-sided p, and verdict."""

    stats: ValueStats
    t: float | None
    p: float | None

    @property
    def verdict(self) -> str:
        if self.p is None or self.t is None:
            return "—"
        if self.p < 0.05:
            return "gain" if self.t > 0 else "loss"
        return "no detectable change"

    def text(self) -> str:
        if self.stats.mean is None:
            return "—"
        body = f"{self.stats.mean:+.3f}"
        if self.stats.std is not None:
            body += f" ± {self.stats.std:.3f}"
        return body + f" (n={self.stats.n})"

    def record(self) -> dict[str, Any]:
        s = self.stats
        return {
            "mean": s.mean,
            "std": s.std,
            "n": s.n,
            "t": self.t,
            "p": self.p,
            "verdict": self.verdict,
        }


def _gain(differences: Sequence[float]) -> Gain:
    s = value_stats(list(differences))
    if s.n < 2 or s.std is None or s.mean is None:
        return Gain(s, None, None)
    if s.std == 0:
        t = math.copysign(math.inf, s.mean) if s.mean else 0.0
        return Gain(s, t, 0.0 if s.mean else 1.0)
    t = s.mean / (s.std / math.sqrt(s.n))
    p = float(2 * scipy_stats.t.sf(abs(t), df=s.n - 1))
    return Gain(s, float(t), p)


@dataclass(frozen=True)
class ArmResult:
    """Everything the tables say about one arm at one budget."""

    arm: Arm
    runs: int
    accuracy: ValueStats
    versus_method: Gain
    versus_supervised: Gain
    extras: dict[str, ValueStats]
    accuracies: tuple[float, ...]
    method_differences: tuple[float, ...]

    def record(self) -> dict[str, Any]:
        a = self.arm
        return {
            "method": a.method,
            "labels_per_class": a.budget,
            "lambda_mir": a.lambda_mir,
            "lambda_hdr": a.lambda_hdr,
            "runs": self.runs,
            "test_accuracy": {
                "mean": self.accuracy.mean,
                "std": self.accuracy.std,
                "n": self.accuracy.n,
            },
            "gain_vs_same_method": self.versus_method.record(),
            "gain_vs_supervised_ce": self.versus_supervised.record(),
            **{k: {"mean": v.mean, "std": v.std, "n": v.n} for k, v in self.extras.items()},
        }


_EXTRAS = ("final_mask_rate", "final_pseudo_label_accuracy", "final_test_mir", "final_test_hdr")


def arm_results(comparison: Comparison) -> list[ArmResult]:
    """One :class:`ArmResult` per arm and budget present, sorted by budget, method, λ."""
    runs = comparison.loaded.runs
    accuracy = {id(r): _headline(r, "final_test_accuracy") for r in runs}
    same_method = {_partner_key(r, _INFO_KEYS): r for r in runs if not run_arm(r).info_on}
    supervised = {
        _partner_key(r, (*_INFO_KEYS, "method")): r
        for r in runs
        if not run_arm(r).info_on and run_arm(r).method == "supervised"
    }
    by_arm: dict[Arm, list[ComparedRun]] = {}
    for r in runs:
        by_arm.setdefault(run_arm(r), []).append(r)
    out = []
    for arm in sorted(by_arm):
        members = by_arm[arm]
        diffs: dict[str, list[float]] = {"method": [], "supervised": []}
        for r in members:
            mine = accuracy[id(r)]
            for kind, table, drop in (
                ("method", same_method, _INFO_KEYS),
                ("supervised", supervised, (*_INFO_KEYS, "method")),
            ):
                partner = table.get(_partner_key(r, drop))
                theirs = None if partner is None or partner is r else accuracy[id(partner)]
                if mine is not None and theirs is not None:
                    diffs[kind].append(mine - theirs)
        out.append(
            ArmResult(
                arm,
                len(members),
                value_stats([accuracy[id(r)] for r in members]),
                _gain(diffs["method"]),
                _gain(diffs["supervised"]),
                {k: value_stats([_headline(r, k) for r in members]) for k in _EXTRAS},
                tuple(a for r in members if (a := accuracy[id(r)]) is not None),
                tuple(diffs["method"]),
            )
        )
    return out
