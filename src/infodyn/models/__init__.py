"""Small reference models used by the experiments."""

from infodyn.models.mlp import ModularMLP, ReLUMLP, scale_parameters
from infodyn.models.resnet import ResidualBlock, ResNet
from infodyn.models.transformer import ModularTransformer

__all__ = [
    "ModularMLP",
    "ModularTransformer",
    "ReLUMLP",
    "ResNet",
    "ResidualBlock",
    "scale_parameters",
]
