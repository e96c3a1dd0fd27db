"""What a ``te-plane`` run says about the paper's claims: headlines and figures with verdicts.

For each delay, the statistics of :class:`infodyn.te_analysis.TEClaims` become headlines
(compared across seeds by ``infodyn compare``) and the figure captions state, with the numbers,
whether each claim of Moldovan, Caţaron & Andonie (2024, arXiv 2404.01364) held in this run:
TE decreases over training, TE follows the loss (and moves against accuracy), and TE
compresses at the beginning of each epoch — every time for raw TE and for TE above its
surrogate null.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, FigureSpec, Headline, RunSummary, StepMarkers
from infodyn.te_analysis import TEClaims, read_lag, te_claims
from infodyn.viz.te_plane import (
    plot_te_epochs,
    plot_te_plane_epochs,
    plot_te_significance,
    plot_te_within_epoch,
)

__all__ = ["claim_headlines", "claim_verdicts", "summarize_te_plane"]

#: ρ at or beyond this magnitude counts as a clear monotone relation over the epochs.
STRONG_RHO = 0.5

# No "+" sign: infodyn compare formats a headline's std with the same pattern.
_RHO = "{:.2f}"
_FRACTION = "{:.2f}"
_BITS = "{:.2e}"


def claim_headlines(claims: TEClaims, delay: int) -> tuple[Headline, ...]:
    """The claims' statistics of one delay as headlines (keys end in ``_lag{delay}``)."""
    lag = f"lag {delay}"
    rows = (
        ("rho_te_epoch", f"ρ(TE, epoch), {lag}", claims.rho_epoch, _RHO),
        ("rho_excess_epoch", f"ρ(TE − null, epoch), {lag}", claims.rho_epoch_excess, _RHO),
        ("z_first", f"TE vs null z, first epoch, {lag}", claims.z_first, "{:.1f}"),
        ("z_late", f"TE vs null z, last half, {lag}", claims.z_late, "{:.1f}"),
        ("rho_te_loss", f"ρ(TE, train loss), {lag}", claims.rho_loss, _RHO),
        ("rho_te_accuracy", f"ρ(TE, train accuracy), {lag}", claims.rho_accuracy, _RHO),
        ("rho_excess_loss", f"ρ(TE − null, train loss), {lag}", claims.rho_loss_excess, _RHO),
        ("above_null", f"epochs with TE > null 95th pct, {lag}", claims.above_null, _FRACTION),
        ("sig_fraction", f"neuron pairs with p < 0.05, {lag}", claims.sig_fraction, _FRACTION),
        ("growing_drop", f"growing-window TE drop in epoch, {lag}", claims.growing_drop, _BITS),
        (
            "growing_null_drop",
            f"its null's drop (bias), {lag}",
            claims.growing_null_drop,
            _BITS,
        ),
        (
            "segment_excess_drop",
            f"excess TE first − last part of epoch, {lag}",
            claims.segment_excess_drop,
            _BITS,
        ),
    )
    return tuple(
        Headline(f"{key}_lag{delay}", label, value, fmt) for key, label, value, fmt in rows
    )


def _rho(value: float | None) -> str:
    return "undefined" if value is None else f"{value:+.2f}"


def _z(value: float | None) -> str:
    return "undefined" if value is None else f"{value:+.1f}"


#: z above this is above the null (about its 97.7th percentile for a normal null).
ABOVE_NULL_Z = 2.0


def _decrease(claims: TEClaims) -> str:
    """Did TE fall over training, judged against its null where there is one."""
    first, late = claims.z_first, claims.z_late
    if first is None or late is None:
        return _direction(claims.rho_epoch, -1)
    if first > ABOVE_NULL_Z >= late:
        return "yes, from above its null to it"
    if first <= ABOVE_NULL_Z and late <= ABOVE_NULL_Z:
        return "no, at its null throughout"
    if late < first:
        return "yes, staying above its null"
    return "no, above its null and not falling"


def _direction(value: float | None, sign: int) -> str:
    """'yes' when ρ is at least STRONG_RHO in the claimed direction, else 'weak' or 'no'."""
    if value is None:
        return "undefined"
    signed = sign * value
    return "yes" if signed >= STRONG_RHO else "weak" if signed > 0 else "no"


def claim_verdicts(claims: TEClaims, delay: int) -> list[str]:
    """One sentence per claim for one delay, with its numbers."""
    lag = f"lag {delay}" + (" (paper)" if delay == 1 else " (infodyn extension)")
    out = [
        f"{lag} — TE decreases with training: {_decrease(claims)} (z vs null "
        f"{_z(claims.z_first)} in epoch 1, {_z(claims.z_late)} over the last half; "
        f"ρ(TE, epoch) = {_rho(claims.rho_epoch)}, ρ(TE − null, epoch) = "
        f"{_rho(claims.rho_epoch_excess)}).",
        f"{lag} — TE tracks the loss: {_direction(claims.rho_loss, +1)} "
        f"(ρ(TE, loss) = {_rho(claims.rho_loss)}, ρ(TE, accuracy) = "
        f"{_rho(claims.rho_accuracy)}; TE − null vs loss ρ = {_rho(claims.rho_loss_excess)}).",
    ]
    if claims.above_null is not None:
        out.append(
            f"{lag} — TE above its null 95th percentile in {claims.above_null:.0%} of epochs; "
            f"{claims.sig_fraction or 0:.1%} of neuron pairs at p < 0.05 (≈ 5 % or less if no "
            f"pair carries information)."
        )
    if claims.growing_drop is not None and claims.growing_null_drop is not None:
        drop, bias = claims.growing_drop, claims.growing_null_drop
        out.append(
            f"{lag} — compression at the beginning of each epoch: the growing-window TE falls "
            f"by {drop:.2e} bits within an epoch and its null by {bias:.2e} "
            f"({'mostly' if drop > 0 and bias >= 0.5 * drop else 'partly' if bias > 0 else 'not'}"
            f" the estimator's bias)"
            + (
                f"; TE − null, first minus last part: {claims.segment_excess_drop:+.2e} bits, "
                f"first higher in {claims.segment_first_higher or 0:.0%} of epochs."
                if claims.segment_excess_drop is not None
                else "."
            )
        )
    return out


def summarize_te_plane(store: RunStore, steps_per_epoch: int, delays: Sequence[int]) -> RunSummary:
    """Headlines per delay, and the te-plane figures whose captions state the verdicts."""
    headlines: list[Headline] = []
    verdicts: dict[int, list[str]] = {}
    for delay in delays:
        try:
            records = read_lag(store, delay)
        except LookupError:
            continue  # nothing recorded yet (e.g. the first epoch is running)
        claims = te_claims(store, records)
        headlines += claim_headlines(claims, delay)
        verdicts[delay] = claim_verdicts(claims, delay)
    lines = [v for d in sorted(verdicts, reverse=True) for v in verdicts[d]]
    trend = " ".join(v for v in lines if "decreases" in v or "tracks" in v)
    null = " ".join(v for v in lines if "above its null" in v)
    within = " ".join(v for v in lines if "compression" in v)
    draw = functools.partial
    suffixes = tuple(f"te_mean_lag{d}" for d in delays)
    arrays = {metric for metric, _, _ in store.array_keys()}
    figures = [
        FigureSpec(
            "te_epochs.png",
            "Mean TE of each layer pair per epoch (bits) with the null mean ± 2 sd of its "
            "source-shuffle surrogates, per delay; bottom: loss, accuracy and the mean TE "
            f"against the training loss. {trend}",
            suffixes,
            draw(_draw, plot_te_epochs, steps_per_epoch),
        ),
        FigureSpec(
            "te_plane.png",
            "TE information plane: each hidden layer at (TE into it, TE out of it) per epoch, "
            "coloured by epoch; dashed boxes reach the null's 95th percentiles.",
            suffixes,
            draw(_draw, plot_te_plane_epochs, steps_per_epoch),
        ),
    ]
    if any(f"te_null_lag{d}" in arrays for d in delays):
        figures.append(
            FigureSpec(
                "te_significance.png",
                f"TE minus its null mean and the fraction of significant neuron pairs. {null}",
                tuple(f"te_excess_lag{d}" for d in delays),
                draw(_draw, plot_te_significance, steps_per_epoch),
            )
        )
    if any(f"te_prefix_mean_lag{d}" in arrays for d in delays):
        figures.append(
            FigureSpec(
                "te_within_epoch.png",
                "Within each epoch: growing-window TE (as the authors' code estimates it after "
                "every batch) with its null, and TE − null over consecutive equal parts of the "
                "epoch. "
                f"{within}",
                suffixes,
                draw(_draw, plot_te_within_epoch, steps_per_epoch),
            )
        )
    return RunSummary(headlines=tuple(headlines), markers=NO_MARKERS, figures=tuple(figures))


def _draw(
    plot: Callable[[RunStore, int], tuple[Figure, np.ndarray]],
    steps_per_epoch: int,
    store: RunStore,
    _markers: StepMarkers,
) -> tuple[Figure, np.ndarray]:
    """A FigureSpec's ``draw(store, markers)``: the epoch figures have no step axis."""
    return plot(store, steps_per_epoch)
