"""Matrix-information figure: MIR/HDR and the two matrix entropies against step."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from infodyn.store import RunStore
from infodyn.summary import NO_MARKERS, StepMarkers
from infodyn.viz._style import Panel, plot_metric_panels

__all__ = ["MATRIX_INFO_METRICS", "plot_matrix_information"]

#: (metric name in the store, legend label, colour) per panel.
_RATIOS = (("mir", "MIR", "tab:purple"), ("hdr", "HDR", "tab:red"))
_ENTROPIES = (
    ("entropy_features", "H(features)", "tab:blue"),
    ("entropy_head", "H(head)", "tab:brown"),
)
#: Every metric this figure can draw; the figure is drawn when any of them is stored.
MATRIX_INFO_METRICS = tuple(m for m, _, _ in _RATIOS + _ENTROPIES)


def plot_matrix_information(
    store: RunStore, markers: StepMarkers = NO_MARKERS
) -> tuple[Figure, np.ndarray]:
    """MIR and HDR (left) and the matrix entropies of features and head (right) against step.

    Reads the scalars ``mir``, ``hdr``, ``entropy_features`` and ``entropy_head`` (entropies in
    nats) for every split: train solid, test dashed; a metric whose series is identical on all
    splits (a property of the weights, like the head's entropy) is drawn once, solid, labelled
    e.g. ``H(head) train = test``. Where a metric is stored for several
    layers, the first layer by name is drawn and named in the panel title. The step axis and
    the step markers match :func:`infodyn.viz.training.plot_training_curves`.

    Args:
        store: A run store; a panel whose metrics are all missing says so.
        markers: The experiment's step markers.

    Returns:
        ``(fig, axes)`` with ``axes`` an array of the 2 panels.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(s, "train", "mir", 0.1 * s, layer="fc") for s in range(5)])
        ...         fig, axes = plot_matrix_information(store)
        >>> len(axes), len(axes[0].lines), axes[0].get_title()
        (2, 1, 'Matrix information ratios — layer fc')
    """
    panels: tuple[Panel, ...] = (
        ("Matrix information ratios", "ratio (MIR, HDR)", "MIR/HDR", False, _RATIOS),
        ("Matrix entropies", "matrix entropy (nats)", "matrix entropies", False, _ENTROPIES),
    )
    return plot_metric_panels(store, panels, "Matrix information", markers)
