"""Stateful ``torchmetrics.Metric`` classes that accumulate and call ``infodyn.functional``."""

from infodyn.metrics.matrix_information import MatrixInformation
from infodyn.metrics.transfer_entropy import LayerTransferEntropy, TransferEntropy

__all__ = ["LayerTransferEntropy", "MatrixInformation", "TransferEntropy"]
