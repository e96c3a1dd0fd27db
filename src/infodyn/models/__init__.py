"""Small reference models used by the experiments."""

from infodyn.models.mlp import ModularMLP
from infodyn.models.transformer import ModularTransformer

__all__ = ["ModularMLP", "ModularTransformer"]
