"""Neural-collapse and information-bottleneck figures against step (Sakamoto & Sato, Figs. 3–4)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers
from infodyn.viz._style import Panel, plot_metric_panels

__all__ = [
    "COLLAPSE_METRICS",
    "IB_METRICS",
    "plot_information_bottleneck",
    "plot_neural_collapse",
]

_COLLAPSE_PANELS: tuple[Panel, ...] = (
    (
        "Within-class variability",
        "ratio (log scale)",
        "RNC1 / NC1",
        True,
        (
            ("rnc1", "RNC1 = V_W/s²", "tab:red"),
            ("rnc1_max", "RNC1 = V_W/max‖h‖²", "tab:pink"),
            ("nc1_trace", "V_W/V_B", "tab:orange"),
            ("nc1", "NC1 = tr(Σ_W Σ_B⁺)/C", "tab:purple"),
            ("cdnv", "CDNV", "tab:brown"),
        ),
    ),
    (
        "Class-mean geometry (NC2)",
        "deviation from a simplex ETF",
        "NC2",
        False,
        (
            ("nc2_equinorm", "equinorm", "tab:blue"),
            ("nc2_equiangularity", "equiangularity", "tab:cyan"),
            ("nc2_etf_error", "ETF error", "tab:green"),
        ),
    ),
    (
        "Head alignment and decisions",
        "value",
        "NC3/NC4",
        False,
        (
            ("nc3", "NC3 self-duality", "tab:olive"),
            ("nc4", "NC4 mismatch rate", "tab:gray"),
        ),
    ),
)
_IB_PANELS: tuple[Panel, ...] = (
    (
        "Mutual information (k-NN)",
        "nats",
        "MI estimates",
        False,
        (
            ("mi_zx", "I(Z;X)", "tab:blue"),
            ("mi_zy", "I(Z;Y)", "tab:orange"),
            ("redundant_information", "I(Z;X) − I(Z;Y)", "tab:red"),
            ("mi_zx_kl", "I(Z;X), KL entropies", "tab:purple"),
            ("mi_zy_kl", "I(Z;Y), KL entropies", "tab:brown"),
            ("redundant_information_kl", "I(Z;X) − I(Z;Y), KL entropies", "tab:pink"),
        ),
    ),
    (
        "Normalised HSIC",
        "nHSIC",
        "nHSIC estimates",
        False,
        (
            ("nhsic_zx", "nHSIC(Z;X)", "tab:blue"),
            ("nhsic_zy", "nHSIC(Z;Y)", "tab:orange"),
            ("nhsic_redundant", "nHSIC(Z;X) − nHSIC(Z;Y)", "tab:red"),
        ),
    ),
)

#: Metrics each figure reads; a figure is drawn when any of them is stored.
COLLAPSE_METRICS = tuple(m for panel in _COLLAPSE_PANELS for m, _, _ in panel[4])
IB_METRICS = tuple(m for panel in _IB_PANELS for m, _, _ in panel[4])


def plot_neural_collapse(
    store: RunStore, markers: StepMarkers = NO_MARKERS
) -> tuple[Figure, np.ndarray]:
    """RNC1, NC1 and CDNV (log), the NC2 measures, and NC3/NC4 against step, per split.

    Reads the scalars that ``infodyn.metrics.NeuralCollapse`` records; the paper's headline
    curve is RNC1 (Sakamoto & Sato), whose fall should accompany the rise of test accuracy.
    """
    return plot_metric_panels(store, _COLLAPSE_PANELS, "Neural collapse", markers)


def plot_information_bottleneck(
    store: RunStore, markers: StepMarkers = NO_MARKERS
) -> tuple[Figure, np.ndarray]:
    """I(Z;X), I(Z;Y) and the redundant information, by k-NN MI and by nHSIC, against step."""
    return plot_metric_panels(store, _IB_PANELS, "Information bottleneck", markers)
