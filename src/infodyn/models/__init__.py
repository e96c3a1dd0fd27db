"""Small reference models used by the experiments."""

from infodyn.models.mlp import ModularMLP, ReLUMLP, scale_parameters

__all__ = ["ModularMLP", "ReLUMLP", "scale_parameters"]
