"""Figures drawn from a run's store (never from a live model), one module per figure family.

:data:`FIGURES` registers every figure; a new family adds one :class:`FigureSpec` entry and
:func:`draw_run_figures` and the HTML report pick it up.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from infodyn.rundir import RunDir, atomic_write_bytes
from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers
from infodyn.viz.collapse import (
    COLLAPSE_METRICS,
    IB_METRICS,
    plot_information_bottleneck,
    plot_neural_collapse,
)
from infodyn.viz.matrix_info import MATRIX_INFO_METRICS, plot_matrix_information
from infodyn.viz.richness import RICHNESS_METRICS, plot_richness, plot_richness_curves
from infodyn.viz.training import plot_training_curves
from infodyn.viz.transfer_entropy import TE_METRICS, plot_transfer_entropy

__all__ = [
    "FIGURES",
    "FigureSpec",
    "draw_run_figures",
    "plot_information_bottleneck",
    "plot_matrix_information",
    "plot_neural_collapse",
    "plot_richness",
    "plot_richness_curves",
    "plot_training_curves",
    "plot_transfer_entropy",
]

#: Resolution of saved PNGs.
DPI = 120


@dataclass(frozen=True)
class FigureSpec:
    """One registered figure.

    Attributes:
        filename: PNG name inside the run's ``figures/``.
        caption: One line for the report.
        metrics: Scalar metrics the figure reads; it is drawn when any of them is stored.
        draw: ``(store, markers) -> (fig, axes)``; ``markers`` are the experiment's step
            markers (figures without a step axis ignore them).
    """

    filename: str
    caption: str
    metrics: tuple[str, ...]
    draw: Callable[[RunStore, StepMarkers], tuple[Figure, np.ndarray]]

    def applies_to(self, store: RunStore) -> bool:
        """Whether ``store`` holds any metric this figure reads."""
        stored = {m for m, _, _ in store.keys()}
        return any(m in stored for m in self.metrics)


FIGURES: list[FigureSpec] = [
    FigureSpec(
        filename="training.png",
        caption=(
            "Accuracy and loss per split (train solid, test dashed), with the experiment's "
            "step markers (for grokking: train accuracy ≥ 0.99, test accuracy ≥ 0.9, the delay "
            "between them shaded)."
        ),
        metrics=("accuracy", "loss"),
        draw=plot_training_curves,
    ),
    FigureSpec(
        filename="matrix_information.png",
        caption=(
            "Matrix information: MIR and HDR (left) and the matrix entropies of features and "
            "classifier head in nats (right), with the same step markers."
        ),
        metrics=MATRIX_INFO_METRICS,
        draw=plot_matrix_information,
    ),
    FigureSpec(
        filename="neural_collapse.png",
        caption=(
            "Neural collapse: RNC1, V_W/V_B, NC1 and CDNV (log scale), the NC2 deviations from "
            "a simplex ETF, and NC3/NC4, per split, with the step markers."
        ),
        metrics=COLLAPSE_METRICS,
        draw=plot_neural_collapse,
    ),
    FigureSpec(
        filename="information_bottleneck.png",
        caption=(
            "Information bottleneck: I(Z;X), I(Z;Y) and the redundant information I(Z;X) − "
            "I(Z;Y), by the k-NN estimator (left) and by nHSIC (right)."
        ),
        metrics=IB_METRICS,
        draw=plot_information_bottleneck,
    ),
    FigureSpec(
        filename="transfer_entropy.png",
        caption=(
            "Transfer entropy: the TE information plane of each hidden layer coloured by step "
            "(left) and the mean TE of each adjacent layer pair against step (right), in bits."
        ),
        metrics=TE_METRICS,
        draw=plot_transfer_entropy,
    ),
    FigureSpec(
        filename="richness.png",
        caption=(
            "Dynamical richness: cumulative quality Π*(k), cumulative utilisation Π̂(k) and "
            "relative feature norms ρ_k/ρ_1 (log) against mode k, one curve per checkpoint "
            "coloured by step; dotted line at k = C."
        ),
        metrics=RICHNESS_METRICS,
        draw=lambda store, _markers: plot_richness(store),
    ),
]


def draw_run_figures(run: RunDir, markers: StepMarkers = NO_MARKERS) -> list[Path]:
    """Draw every registered figure whose metrics are in the run's store, as PNGs.

    ``markers`` (from the experiment's :class:`~infodyn.summary.RunSummary`, see
    :func:`infodyn.runner.summarize_run`) are drawn on every step axis.

    Each PNG is written atomically into ``run.figures_dir`` (created if missing), so a viewer
    never sees half a file. A figure whose metrics are absent is skipped.

    Returns:
        The paths written, in registry order.
    """
    run.figures_dir.mkdir(exist_ok=True)
    written = []
    with run.store(readonly=True) as store:
        for spec in FIGURES:
            if not spec.applies_to(store):
                continue
            fig, _ = spec.draw(store, markers)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=DPI)
            path = run.figures_dir / spec.filename
            atomic_write_bytes(path, buf.getvalue())
            written.append(path)
    return written
