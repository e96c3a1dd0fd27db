"""Stateful ``torchmetrics.Metric`` classes that accumulate and call ``infodyn.functional``."""

from infodyn.metrics.collapse import NeuralCollapse
from infodyn.metrics.information_plane import InformationPlane
from infodyn.metrics.matrix_information import MatrixInformation
from infodyn.metrics.richness import Richness
from infodyn.metrics.transfer_entropy import LayerTransferEntropy, TransferEntropy

__all__ = [
    "InformationPlane",
    "LayerTransferEntropy",
    "MatrixInformation",
    "NeuralCollapse",
    "Richness",
    "TransferEntropy",
]
