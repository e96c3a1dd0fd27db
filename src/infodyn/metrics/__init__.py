"""Stateful ``torchmetrics.Metric`` classes that accumulate and call ``infodyn.functional``.

Every metric's accumulated state can be checkpointed mid-pass with :func:`metric_state_dict`
and restored into a fresh metric built with the same arguments with
:func:`load_metric_state_dict`.
"""

from infodyn.metrics._state import load_metric_state_dict, metric_state_dict
from infodyn.metrics.collapse import NeuralCollapse
from infodyn.metrics.information_plane import InformationPlane
from infodyn.metrics.layer_transfer_entropy import LayerTransferEntropy, SurrogateTest
from infodyn.metrics.margins import ClassPairMargins
from infodyn.metrics.matrix_information import MatrixInformation
from infodyn.metrics.richness import Richness
from infodyn.metrics.transfer_entropy import TransferEntropy

__all__ = [
    "ClassPairMargins",
    "InformationPlane",
    "LayerTransferEntropy",
    "MatrixInformation",
    "NeuralCollapse",
    "Richness",
    "SurrogateTest",
    "TransferEntropy",
    "load_metric_state_dict",
    "metric_state_dict",
]
