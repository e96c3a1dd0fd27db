"""The dynamical-richness claims of Nam et al. (2024, arXiv 2410.04264), judged on compared runs.

:func:`settings` reads each group of ``infodyn compare`` as a :class:`Setting` (its training
factors and the headline statistics over its seeds); :func:`judge` returns a :class:`Claim`
for each claim whose factor the comparison varies. The paper states its claims qualitatively;
the rules are infodyn's. A difference of two settings' means counts as *clear* when it exceeds
twice its standard error sqrt(s_a²/n_a + s_b²/n_b) (seeds as samples); with one seed there is
no spread, and the sign alone is reported as such.

* (rich ≠ better) *full training is richer (lower D_LR) than training the last layer only,
  yet generalises worse* (their Fig. 1): **reproduced** when in every pair of settings that
  differ only in ``train`` the full model's D_LR is clearly lower and its test accuracy lower;
  **partly** when D_LR separates them but the accuracies do not order that way, or only in
  some pairs.
* (BatchNorm) *BatchNorm is richer* (their Table 2, Fig. 3): per learning rate (and weight
  decay), D_LR with BatchNorm against without; **reproduced** when clearly lower at every one,
  **partly** when at some.
* (learning rate) *a moderate learning rate is the richest* (their Fig. 4; ResNet18:
  0.053 / 0.025 / 0.039 at lr 0.005 / 0.05 / 0.2): per BatchNorm setting with ≥ 3 learning
  rates (of finished runs), the moderate one (neither the smallest nor the largest) with the
  lowest mean D_LR against the smallest and the largest; **reproduced** when, for every
  BatchNorm setting, it is clearly lower than both (richest in the middle); **partly** when it
  is clearly lower than the smallest only (richer than the smallest, but the largest is as
  rich or richer), or the shape holds for some BatchNorm settings only.
* (weight decay) *S_init and the parameter norm mis-read weight decay* (the paper's reason to
  prefer D_LR): between the smallest and the largest λ, the relative change of S_init, of
  ‖θ‖²/‖θ_0‖² and of D_LR; **reproduced** when a baseline changes clearly and by at least
  twice D_LR's relative change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infodyn.compare.build import Comparison
from infodyn.compare.stats import ValueStats
from infodyn.report import flatten_config
from infodyn.summary import Claim

__all__ = ["AXES", "Claim", "Setting", "d_lr_key", "factor_text", "judge", "settings"]

#: The training factors a comparison may vary, by short name → dotted config key.
AXES = {
    "train": "train",
    "batchnorm": "model.batchnorm",
    "lr": "optim.lr",
    "weight_decay": "optim.weight_decay",
}
#: A difference counts as clear beyond this many standard errors.
CLEAR_SE = 2.0
#: Claim (weight decay): a baseline must move at least this many times D_LR's relative change.
BASELINE_FACTOR = 2.0


@dataclass(frozen=True)
class Setting:
    """One group of the comparison: its factors and its headline statistics over seeds.

    Attributes:
        label: The group's label.
        n: Runs (seeds) in it.
        factors: ``{short name: value}`` for the :data:`AXES` its runs' configs have.
        stats: Per headline key, the statistics over its runs.
    """

    label: str
    n: int
    factors: dict[str, Any]
    stats: dict[str, ValueStats]

    def mean(self, key: str) -> float | None:
        s = self.stats.get(key)
        return None if s is None else s.mean


def settings(comparison: Comparison) -> list[Setting]:
    """The comparison's groups as settings, in its order."""
    out = []
    for result in comparison.groups:
        flat = dict(flatten_config(result.group.runs[0].config))
        factors = {name: flat[key] for name, key in AXES.items() if key in flat}
        out.append(Setting(result.group.label, result.n, factors, dict(result.headlines)))
    return out


def d_lr_key(items: Sequence[Setting]) -> str:
    """The D_LR headline these runs carry: ``final_d_lr`` or ``final_d_lr_with_constant``."""
    keys = {k for s in items for k, v in s.stats.items() if k.startswith("final_d_lr") and v.n}
    for key in ("final_d_lr", "final_d_lr_with_constant"):
        if key in keys:
            return key
    return "final_d_lr"


def _difference(a: ValueStats, b: ValueStats) -> tuple[float, float | None] | None:
    """(mean_a − mean_b, its standard error or None with a single seed on a side)."""
    if a.mean is None or b.mean is None:
        return None
    se = None
    if a.std is not None and b.std is not None:
        se = math.sqrt(a.std**2 / a.n + b.std**2 / b.n)
    return a.mean - b.mean, se


def _lower(a: ValueStats, b: ValueStats) -> tuple[bool, str]:
    """Whether a's mean is clearly lower than b's, and the difference as text."""
    found = _difference(a, b)
    if found is None:
        return False, "not measured"
    diff, se = found
    if se is None:
        return diff < 0, f"Δ {diff:+.3f} (one seed: no spread)"
    if se == 0:
        return diff < 0, f"Δ {diff:+.3f} (no spread)"
    return diff < -CLEAR_SE * se, f"Δ {diff:+.3f} = {diff / se:+.1f} s.e."


def _text(s: ValueStats | None, fmt: str = "{:.3f}") -> str:
    if s is None or s.mean is None:
        return "—"
    return s.text(fmt, counts=False)


def factor_text(factors: dict[str, Any], leave_out: str = "") -> str:
    """``batchnorm=true, lr=0.01`` (config spelling), without ``leave_out``.

    Example:
        >>> factor_text({"lr": 0.01, "batchnorm": True, "train": "full"}, leave_out="train")
        'batchnorm=true, lr=0.01'
    """

    def text(v: Any) -> str:
        return (
            str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)
        )

    return ", ".join(f"{k}={text(v)}" for k, v in sorted(factors.items()) if k != leave_out)


def _pairs(items: Sequence[Setting], axis: str) -> list[tuple[str, dict[Any, Setting]]]:
    """Settings that differ only in ``axis``: (what they share, {axis value: setting})."""
    found: dict[str, dict[Any, Setting]] = {}
    for s in items:
        if axis not in s.factors:
            continue
        found.setdefault(factor_text(s.factors, axis), {})[s.factors[axis]] = s
    return [(rest, by) for rest, by in found.items() if len(by) > 1]


def _verdict(held: Sequence[bool]) -> str:
    return "reproduced" if all(held) else ("partly" if any(held) else "not reproduced")


def _rich_not_better(items: Sequence[Setting], key: str) -> Claim | None:
    pairs = [(rest, by) for rest, by in _pairs(items, "train") if {"full", "last_layer"} <= set(by)]
    if not pairs:
        return None
    held, partly, parts = [], [], []
    for rest, by in pairs:
        full, lazy = by["full"], by["last_layer"]
        richer, diff = _lower(full.stats[key], lazy.stats[key])
        acc_full, acc_lazy = (s.mean("final_test_accuracy") for s in (full, lazy))
        worse = acc_full is not None and acc_lazy is not None and acc_full < acc_lazy
        held.append(richer and worse)
        partly.append(richer)
        parts.append(
            f"{rest or 'all'}: full D_LR {_text(full.stats[key], '{:.4f}')}, test acc "
            f"{_text(full.stats.get('final_test_accuracy'))}; last layer D_LR "
            f"{_text(lazy.stats[key], '{:.4f}')}, test acc "
            f"{_text(lazy.stats.get('final_test_accuracy'))} (D_LR {diff})"
        )
    verdict = _verdict(held) if any(held) else ("partly" if any(partly) else "not reproduced")
    text = "full training is richer (lower D_LR) than the last layer only, yet generalises worse"
    return Claim(
        "rich_not_better",
        text,
        verdict,
        "; ".join(parts) + " (paper: 0.0087 at 10.0 % vs 0.63 at 74.4 %)",
    )


def _batchnorm(items: Sequence[Setting], key: str) -> Claim | None:
    pairs = [(rest, by) for rest, by in _pairs(items, "batchnorm") if {True, False} <= set(by)]
    if not pairs:
        return None
    held, parts = [], []
    for rest, by in pairs:
        lower, diff = _lower(by[True].stats[key], by[False].stats[key])
        held.append(lower)
        parts.append(
            f"{rest or 'all'}: with {_text(by[True].stats[key])} vs without "
            f"{_text(by[False].stats[key])} ({diff})"
        )
    evidence = "; ".join(parts) + " (paper, VGG16 on CIFAR-100: 0.073 with, 0.66 without)"
    return Claim("batchnorm", "BatchNorm is richer (lower D_LR)", _verdict(held), evidence)


def _learning_rate(items: Sequence[Setting], key: str) -> Claim | None:
    contexts = [(rest, by) for rest, by in _pairs(items, "lr") if len(by) >= 3]
    if not contexts:
        return None
    held, partly, parts = [], [], []
    for rest, by in contexts:
        lrs = sorted(by)
        smallest, largest = by[lrs[0]], by[lrs[-1]]
        moderate = [by[lr] for lr in lrs[1:-1] if by[lr].mean(key) is not None]
        if not moderate or smallest.mean(key) is None or largest.mean(key) is None:
            held.append(False)
            partly.append(False)
            parts.append(f"{rest or 'all'}: not measured")
            continue
        best = min(moderate, key=lambda s: _or(s.mean(key), math.inf))
        than_smallest, diff_smallest = _lower(best.stats[key], smallest.stats[key])
        than_largest, diff_largest = _lower(best.stats[key], largest.stats[key])
        held.append(than_smallest and than_largest)
        partly.append(than_smallest or than_largest)
        curve = ", ".join(f"{lr:g}: {_text(by[lr].stats[key])}" for lr in lrs)
        parts.append(
            f"{rest or 'all'}: D_LR by lr {curve}; richest moderate lr={best.factors['lr']:g} "
            f"vs the smallest ({diff_smallest}), vs the largest lr={lrs[-1]:g} ({diff_largest})"
        )
    verdict = _verdict(held) if any(held) else ("partly" if any(partly) else "not reproduced")
    evidence = (
        "; ".join(parts) + " (paper, ResNet18: 0.053 / 0.025 / 0.039 at lr 0.005 / 0.05 / 0.2)"
    )
    return Claim(
        "learning_rate",
        "a moderate learning rate is the richest (lower D_LR than the smallest and the largest)",
        verdict,
        evidence,
    )


def _relative(a: ValueStats, b: ValueStats) -> float | None:
    if a.mean is None or b.mean is None or a.mean == 0:
        return None
    return (b.mean - a.mean) / abs(a.mean)


def _change(name: str, a: ValueStats, b: ValueStats, fmt: str) -> tuple[float | None, bool, str]:
    """Relative change a → b, whether it is clear, and ``name a → b (−34 %, −8.1 s.e.)``."""
    r = _relative(a, b)
    found = _difference(b, a)
    se = None if found is None else found[1]
    clear = found is not None and (se is None or abs(found[0]) > CLEAR_SE * se)
    size = "" if found is None or not se else f", {found[0] / se:+.1f} s.e."
    return r, clear, f"{name} {_text(a, fmt)} → {_text(b, fmt)} ({_pct(r)}{size})"


def _weight_decay(items: Sequence[Setting], key: str) -> Claim | None:
    pairs = _pairs(items, "weight_decay")
    if not pairs:
        return None
    baselines = {"final_s_init": "S_init", "final_param_norm_ratio": "‖θ‖²/‖θ_0‖²"}
    held, parts = [], []
    for rest, by in pairs:
        low, high = by[min(by)], by[max(by)]
        r_d, _, d_text = _change("D_LR", low.stats[key], high.stats[key], "{:.3f}")
        moved, texts = False, [d_text]
        for bkey, name in baselines.items():
            a, b = low.stats.get(bkey), high.stats.get(bkey)
            if a is None or b is None:
                continue
            r, clear, text = _change(name, a, b, "{:.3g}")
            big = r is not None and r_d is not None and abs(r) >= BASELINE_FACTOR * abs(r_d)
            moved = moved or (clear and big)
            texts.append(text)
        held.append(moved)
        parts.append(f"{rest or 'all'}, λ {min(by):g} → {max(by):g}: " + ", ".join(texts))
    text = "S_init and the parameter norm mis-read weight decay (they move, D_LR much less)"
    evidence = (
        "; ".join(parts)
        + f" (counts when a baseline changes clearly and by ≥ {BASELINE_FACTOR:g}× D_LR's "
        f"relative change)"
    )
    return Claim("weight_decay", text, _verdict(held), evidence)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _pct(r: float | None) -> str:
    return "—" if r is None else f"{100 * r:+.0f} %"


_JUDGES: tuple[Callable[[Sequence[Setting], str], Claim | None], ...] = (
    _rich_not_better,
    _batchnorm,
    _learning_rate,
    _weight_decay,
)


def judge(items: Sequence[Setting]) -> list[Claim]:
    """A verdict for each claim whose factor these settings vary (none when none does)."""
    key = d_lr_key(items)
    return [c for j in _JUDGES if (c := j(items, key)) is not None]
