"""Small reference models used by the experiments."""

from infodyn.models.mlp import ModularMLP

__all__ = ["ModularMLP"]
