"""Stateful ``torchmetrics.Metric`` classes that accumulate and call ``infodyn.functional``."""

from infodyn.metrics.matrix_information import MatrixInformation

__all__ = ["MatrixInformation"]
