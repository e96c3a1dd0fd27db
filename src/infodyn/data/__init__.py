"""Datasets that ship with infodyn or are generated on the fly (no downloads)."""

from infodyn.data.modular import ModularSplit, modular_arithmetic, split_modular

__all__ = ["ModularSplit", "modular_arithmetic", "split_modular"]
