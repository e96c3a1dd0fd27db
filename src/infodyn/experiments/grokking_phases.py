"""MIR, HDR and D_LR at the phases of a grokking run, as headlines that test two paper claims.

Song et al. (2024, §5.3) read grokking as two phases of matrix information on the training
data: while the network fits, MIR rises and HDR falls; afterwards, while it generalises, MIR
falls and HDR rises. Nam et al. (D_LR, their grokking figure) see dynamical richness fall
across grokking, from ≈0.5 early to ≈0.1 once the network generalises. A run holds these
metrics on a log-spaced schedule; the headlines read each at four points — step 0, the fit
step, the generalisation step, the last step — plus the changes each claim is about, so
``infodyn run``, the report and ``infodyn compare`` show the verdict of every run.
"""

from __future__ import annotations

import numpy as np

from infodyn.store import RunStore
from infodyn.summary import Headline

__all__ = ["PHASE_METRICS", "phase_headlines", "value_at_or_after"]

#: (metric, name on the page) of the metrics read at the phases, on the train split.
PHASE_METRICS = (("mir", "MIR"), ("hdr", "HDR"), ("d_lr", "D_LR"))


def value_at_or_after(steps: np.ndarray, values: np.ndarray, step: int | None) -> float | None:
    """The value at the first recorded step ``>= step``: the state once an event has happened.

    None when ``step`` is None (the event never happened) or nothing was recorded after it.

    Args:
        steps: ``(n,)`` recorded steps, ascending.
        values: ``(n,)`` values at those steps.
        step: The event's step (e.g. train accuracy reaching 0.99).

    Example:
        >>> import numpy as np
        >>> steps, values = np.array([0, 10, 100]), np.array([0.5, 0.4, 0.1])
        >>> value_at_or_after(steps, values, 7), value_at_or_after(steps, values, 101)
        (0.4, None)
    """
    if step is None:
        return None
    index = int(np.searchsorted(steps, step, side="left"))
    return float(values[index]) if index < len(steps) else None


def _difference(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else later - earlier


def phase_headlines(
    store: RunStore, fit_step: int | None, generalize_step: int | None, *, split: str = "train"
) -> tuple[Headline, ...]:
    """Each recorded phase metric at step 0, fit, generalisation and end, and the claimed changes.

    Per metric of :data:`PHASE_METRICS` recorded on ``split``: ``{metric}_start`` (its first
    recorded step: step 0), ``{metric}_at_fit`` and
    ``{metric}_at_generalize`` (the first recorded step at or after the event; None when it
    never happened) and ``{metric}_end`` (the last recorded step). Then the changes the claims
    are about: ``mir_fit_to_generalize`` and ``hdr_fit_to_generalize`` (Song et al.: MIR falls,
    HDR rises, so < 0 and > 0) and ``d_lr_start_to_end`` (Nam et al.: ≈ 0.1 − 0.5 = −0.4).
    Metrics not recorded (e.g. ``monitor.richness=false``) give no headlines.

    Args:
        store: The run's store.
        fit_step: Step at which train accuracy reached the fit threshold, or None.
        generalize_step: Step at which test accuracy reached the generalisation threshold.
        split: The split whose series are read.

    Returns:
        The headlines, four per recorded metric, then the changes.
    """
    recorded = {(m, s) for m, s, _ in store.keys()}
    at: dict[str, dict[str, float | None]] = {}
    headlines: list[Headline] = []
    for metric, name in PHASE_METRICS:
        if (metric, split) not in recorded:
            continue
        steps, values = store.series(metric, split)
        points = {
            "start": float(values[0]),
            "at_fit": value_at_or_after(steps, values, fit_step),
            "at_generalize": value_at_or_after(steps, values, generalize_step),
            "end": float(values[-1]),
        }
        at[metric] = points
        where = {
            "start": "step 0",
            "at_fit": "fit",
            "at_generalize": "generalisation",
            "end": "the last step",
        }
        headlines.extend(
            Headline(f"{metric}_{point}", f"{name} ({split}) at {where[point]}", value, "{:.4f}")
            for point, value in points.items()
        )
    changes = (
        ("mir", "at_generalize", "at_fit", "mir_fit_to_generalize", "Song et al.: < 0"),
        ("hdr", "at_generalize", "at_fit", "hdr_fit_to_generalize", "Song et al.: > 0"),
        ("d_lr", "end", "start", "d_lr_start_to_end", "Nam et al.: ≈ −0.4"),
    )
    for metric, later, earlier, key, claim in changes:
        if metric in at:
            name = dict(PHASE_METRICS)[metric]
            frm, to = ("fit", "generalisation") if earlier == "at_fit" else ("start", "end")
            headlines.append(
                Headline(
                    key,
                    f"{name} change, {frm} → {to} ({claim})",
                    _difference(at[metric][later], at[metric][earlier]),
                    "{:+.4f}",
                )
            )
    return tuple(headlines)
