"""Figures drawn from a run's store (never from a live model), one module per figure family.

:data:`FIGURES` registers every figure; a new family adds one :class:`FigureSpec` entry and
:func:`draw_run_figures` and the HTML report pick it up.
"""

from __future__ import annotations

import io
from pathlib import Path

from infodyn.rundir import RunDir, atomic_write_bytes
from infodyn.summary import FigureSpec, RunSummary
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
    "figure_specs",
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


def figure_specs(summary: RunSummary | None = None) -> list[FigureSpec]:
    """The built-in figures followed by the experiment's own (``summary.figures``)."""
    return [*FIGURES, *(summary.figures if summary is not None else ())]


def draw_run_figures(run: RunDir, summary: RunSummary | None = None) -> list[Path]:
    """Draw every figure whose metrics are in the run's store, as PNGs.

    ``summary`` (the experiment's reading of the run, see
    :func:`infodyn.runner.summarize_run`) adds its step markers to every step axis and its own
    figures after the built-in ones.

    Each PNG is written atomically into ``run.figures_dir`` (created if missing), so a viewer
    never sees half a file. A figure whose metrics are absent is skipped.

    Returns:
        The paths written, in registry order.
    """
    run.figures_dir.mkdir(exist_ok=True)
    written = []
    markers = summary.markers if summary is not None else RunSummary().markers
    with run.store(readonly=True) as store:
        for spec in figure_specs(summary):
            if not spec.applies_to(store):
                continue
            fig, _ = spec.draw(store, markers)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=DPI)
            path = run.figures_dir / spec.filename
            atomic_write_bytes(path, buf.getvalue())
            written.append(path)
    return written
