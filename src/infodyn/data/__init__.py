"""Datasets that ship with infodyn or are generated on the fly (no downloads)."""

from infodyn.data.datasets import DATASETS, Dataset, load_dataset, stratified_split
from infodyn.data.idx import read_idx, write_idx
from infodyn.data.modular import ModularSplit, modular_arithmetic, split_modular

__all__ = [
    "DATASETS",
    "Dataset",
    "ModularSplit",
    "load_dataset",
    "modular_arithmetic",
    "read_idx",
    "split_modular",
    "stratified_split",
    "write_idx",
]
