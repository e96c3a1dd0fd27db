"""The metric set of the live benchmarks: every family, as ``live_overhead.py`` records it.

Shared by ``live_overhead.py`` (its cost) and ``live_ddp.py`` (its DDP equality), so both
measure the same five metrics with the same settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics import Metric

from infodyn.metrics import (
    InformationPlane,
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
)


def family_metrics(layers: Sequence[str], num_classes: int) -> dict[str, Metric]:
    """Fresh metrics of the four families, keyed by the probe names the benchmarks use.

    MIR/HDR (the mean over batches), TE between consecutive ``layers`` and the softmax
    (channel means as neurons), NeuralCollapse (NC1–NC4), the information plane with nHSIC
    (its 1,000-row cap) and D_LR.
    """
    return {
        "matrix": MatrixInformation(),
        "te": LayerTransferEntropy(layers),
        "collapse": NeuralCollapse(num_classes=num_classes),
        "information_plane": InformationPlane(num_classes=num_classes),
        "richness": Richness(),
    }
