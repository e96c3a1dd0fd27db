"""What moves first: every series' transition against a reference event, over one or many seeds.

For each scalar series of a run (metric × split × layer) :func:`infodyn.transitions.
detect_transition` finds its window; the *reference* is one of them (by default test accuracy,
whose rise is generalisation). A quantity's lead is measured at the middles of the two windows:

- ``lead_steps = mid(reference) − mid(quantity)``: positive when the quantity is halfway
  before the reference is, i.e. it moves first;
- ``lead_ratio = (1 + mid(reference)) / (1 + mid(quantity))``, the same gap on the log-step
  axis (> 1 leads; 2 means the quantity was halfway at half the reference's step count);
- ``spearman``: the Spearman rank correlation of the quantity with the reference over the
  steps both recorded — ±1 when one is a monotone function of the other.

Across the seeds of one grid point (a :func:`explain_group` of several runs) each run is
explained alone; a row holds the mean ± sample std of ``lead_steps`` over the seeds in which
both the quantity and the reference have a transition, the geometric mean of ``lead_ratio``
(the mean on the log-step axis, where the transitions were found) and of the window's steps,
and how many of those seeds it leads in. Rows are ranked by mean lead, largest first: the
first row moved first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from infodyn.transitions import Direction, Transition, detect_transition, log_step, step_of

__all__ = [
    "DEFAULT_REFERENCE",
    "LeadLagRow",
    "SeriesKey",
    "explain_group",
    "parse_reference",
    "resolve_reference",
    "spearman_on_shared_steps",
]

#: ``(metric, split, layer)``: one scalar series of a run store.
SeriesKey = tuple[str, str, str]
Series = tuple[np.ndarray, np.ndarray]

#: Test accuracy: its rise is generalisation.
DEFAULT_REFERENCE = "test:accuracy"


def parse_reference(text: str) -> tuple[str, str, str | None]:
    """``"split:metric[:layer]"`` → ``(metric, split, layer or None)``.

    Example:
        >>> parse_reference("test:accuracy"), parse_reference("train:rnc1:fc2")
        (('accuracy', 'test', None), ('rnc1', 'train', 'fc2'))
    """
    parts = text.split(":", 2)
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(
            f"--reference {text!r} is not split:metric; e.g. test:accuracy or train:accuracy "
            f"(split:metric:layer for a layer's series)"
        )
    return parts[1], parts[0], parts[2] if len(parts) == 3 else None


def resolve_reference(reference: str, keys: Sequence[SeriesKey]) -> SeriesKey:
    """The stored series that ``reference`` (``split:metric[:layer]``) names.

    Raises:
        ValueError: No such series, or several layers and none chosen; the message lists what
            is stored.

    Example:
        >>> resolve_reference("test:accuracy", [("accuracy", "test", ""), ("mir", "test", "h")])
        ('accuracy', 'test', '')
    """
    metric, split, layer = parse_reference(reference)
    found = [k for k in keys if k[0] == metric and k[1] == split and layer in (None, k[2])]
    if len(found) == 1:
        return found[0]
    stored = ", ".join(f"{s}:{m}" + (f":{lay}" if lay else "") for m, s, lay in keys)
    if not found:
        raise ValueError(f"--reference {reference!r}: no such series; the runs hold: {stored}")
    raise ValueError(
        f"--reference {reference!r} is recorded for layers "
        f"{', '.join(k[2] for k in found)}; name one as split:metric:layer"
    )


@dataclass(frozen=True)
class LeadLagRow:
    """One quantity's transition and its lead on the reference, over the runs of a group.

    Attributes:
        key: ``(metric, split, layer)``.
        n: Runs that recorded the series.
        found: Runs in which the series has a transition.
        paired: Runs in which both the series and the reference have one (the lead's n).
        leading: Of ``paired``, runs in which the quantity's middle comes first.
        start_step, mid_step, end_step: Geometric means of ``1 + step`` over ``found``, minus 1
            (NaN when ``found`` is 0).
        mid_log_std: Sample std of the middle over ``found`` runs, in decades (NaN below 2).
        direction: ``"rise"`` or ``"fall"``, the direction of most runs.
        confidence: Mean change over noise (see :class:`~infodyn.transitions.Transition`).
        lead_steps: Mean of ``mid(reference) − mid(quantity)`` over ``paired`` (NaN if none).
        lead_steps_std: Its sample std (NaN below 2).
        lead_ratio: Geometric mean of ``(1 + mid(ref)) / (1 + mid(quantity))`` over ``paired``.
        lead_log_std: Sample std of ``log10`` of that ratio, in decades.
        spearman: Mean Spearman correlation with the reference on shared steps (NaN if
            undefined in every run: constant series or fewer than 3 shared steps).
        is_reference: The reference itself.
    """

    key: SeriesKey
    n: int
    found: int
    paired: int
    leading: int
    start_step: float
    mid_step: float
    end_step: float
    mid_log_std: float
    direction: Direction
    confidence: float
    lead_steps: float
    lead_steps_std: float
    lead_ratio: float
    lead_log_std: float
    spearman: float
    is_reference: bool = False

    @property
    def label(self) -> str:
        """``metric (split)`` or ``metric (split) [layer]``."""
        metric, split, layer = self.key
        return f"{metric} ({split})" + (f" [{layer}]" if layer else "")


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _geo_step(steps: Sequence[float]) -> float:
    return step_of(float(np.mean(log_step(np.asarray(steps))))) if steps else math.nan


def spearman_on_shared_steps(a: Series, b: Series) -> float:
    """Spearman correlation of two series over the steps both recorded (NaN if undefined).

    Example:
        >>> s = np.arange(10)
        >>> round(spearman_on_shared_steps((s, s**2.0), (s[::2], -s[::2] * 1.0)), 6)
        -1.0
    """
    _, ia, ib = np.intersect1d(a[0], b[0], return_indices=True)
    x, y = a[1][ia], b[1][ib]
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


def _row(
    key: SeriesKey,
    per_run: Sequence[tuple[Transition, Transition | None, float]],
    is_reference: bool,
) -> LeadLagRow:
    found = [t for t, _, _ in per_run if t.found]
    pairs = [(t, r) for t, r, _ in per_run if t.found and r is not None and r.found]
    leads = [r.mid_step - t.mid_step for t, r in pairs]
    log_leads = [r.mid_log - t.mid_log for t, r in pairs]
    rises = sum(t.direction == "rise" for t in found) if found else 0
    directions = [t.direction for t, _, _ in per_run]
    direction: Direction = (
        ("rise" if rises * 2 >= len(found) else "fall")
        if found
        else ("rise" if directions.count("rise") * 2 >= len(directions) else "fall")
    )
    rhos = [rho for _, _, rho in per_run if not math.isnan(rho)]
    return LeadLagRow(
        key=key,
        n=len(per_run),
        found=len(found),
        paired=len(pairs),
        leading=sum(lead > 0 for lead in leads),
        start_step=_geo_step([t.start_step for t in found]),
        mid_step=_geo_step([t.mid_step for t in found]),
        end_step=_geo_step([t.end_step for t in found]),
        mid_log_std=_std([t.mid_log for t in found]),
        direction=direction,
        confidence=_mean([min(t.confidence, 1e6) for t in found]),
        lead_steps=_mean(leads),
        lead_steps_std=_std(leads),
        lead_ratio=10.0 ** _mean(log_leads) if log_leads else math.nan,
        lead_log_std=_std(log_leads),
        spearman=_mean(rhos),
        is_reference=is_reference,
    )


def _rank(row: LeadLagRow) -> tuple[int, float, float, str, str, str]:
    """Transitions first, by lead (largest first, then earliest middle); the rest by name."""
    if row.found == 0:
        return (2, 0.0, 0.0, *row.key)
    lead = -row.lead_steps if not math.isnan(row.lead_steps) else math.inf
    return (0 if row.paired else 1, lead, row.mid_step, *row.key)


def explain_group(
    runs: Sequence[Mapping[SeriesKey, Series]], reference: SeriesKey
) -> list[LeadLagRow]:
    """Transitions and leads of every series over the runs (seeds) of one group, ranked.

    Args:
        runs: Per run, its scalar series ``{(metric, split, layer): (steps, values)}``.
        reference: The reference series' key (see :func:`resolve_reference`).

    Returns:
        One row per series recorded by any run (those with fewer than 4 finite values are
        left out): series with a transition in some run where the reference has one, by
        mean lead (first mover first); then series with a transition but no paired
        reference; then series without a transition.

    Example:
        >>> steps = np.unique(np.geomspace(1, 10_000, 80).astype(int))
        >>> x = np.log10(1 + steps)
        >>> run = {("accuracy", "test", ""): (steps, 0.01 + 1 / (1 + np.exp(-8 * (x - 3)))),
        ...        ("rnc1", "test", ""): (steps, 0.1 + 1 / (1 + np.exp(8 * (x - 2.5)))),
        ...        ("flat", "test", ""): (steps, np.ones(steps.size))}
        >>> rows = explain_group([run], ("accuracy", "test", ""))
        >>> [(r.key[0], r.direction, r.found, round(r.lead_ratio, 2)) for r in rows]
        [('rnc1', 'fall', 1, 3.16), ('accuracy', 'rise', 1, 1.0), ('flat', 'rise', 0, nan)]
    """
    per_key: dict[SeriesKey, list[tuple[Transition, Transition | None, float]]] = {}
    for series in runs:
        ref_series = series.get(reference)
        ref = _safe_detect(ref_series) if ref_series is not None else None
        for key, pair in series.items():
            t = ref if key == reference else _safe_detect(pair)
            if t is None:
                continue
            rho = spearman_on_shared_steps(pair, ref_series) if ref_series is not None else math.nan
            per_key.setdefault(key, []).append((t, ref, rho))
    rows = [_row(key, per_run, key == reference) for key, per_run in per_key.items()]
    return sorted(rows, key=_rank)


def _safe_detect(series: Series) -> Transition | None:
    steps, values = series
    if np.count_nonzero(np.isfinite(values)) < 4:
        return None  # too short to have plateaus: not a series to rank
    return detect_transition(steps, values)
