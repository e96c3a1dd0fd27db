"""Classification datasets that need no download: shipped, generated, or read from files.

==================  =============================================  =====================
name                source                                         input shape
==================  =============================================  =====================
``digits``          scikit-learn's 8×8 digits (1,797 images)       (1, 8, 8), in [0, 1]
``mnist1d``         the ``mnist1d`` package, generated locally     (1, 40), standardised
                    (Greydanus 2020; 4,000 train / 1,000 test)
``iris``            scikit-learn (150 × 4, 3 classes)              (4,), standardised
``wine``            scikit-learn (178 × 13, 3 classes)             (13,), standardised
``breast_cancer``   scikit-learn (569 × 30, 2 classes)             (30,), standardised
``mnist``           MNIST IDX files in ``root`` (never downloaded) (1, 28, 28), in [0, 1]
==================  =============================================  =====================

Datasets without their own split are split stratified and seeded; tabular features are
standardised with the training split's mean and std. ``train_size`` keeps a class-balanced,
seeded subset of the training split (a small training set makes memorisation come first).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from infodyn.data.idx import read_idx

__all__ = ["DATASETS", "Dataset", "load_dataset", "stratified_split"]

#: Every dataset name :func:`load_dataset` knows; ``mnist`` needs ``root``.
DATASETS = ("digits", "mnist1d", "iris", "wine", "breast_cancer", "mnist")
_TABULAR = ("iris", "wine", "breast_cancer")
_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """A train/test split: float32 inputs, int64 labels in [0, num_classes)."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(1, 8, 8)``."""
        return tuple(self.x_train.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        """The same split with every tensor on ``device``."""
        return Dataset(
            self.name,
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_test.to(device),
            self.y_test.to(device),
            self.num_classes,
        )


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test indices with each class split in the same proportion.

    Example:
        >>> train, test = stratified_split(np.array([0] * 8 + [1] * 4), 0.25, seed=0)
        >>> len(train), len(test), int((np.array([0] * 8 + [1] * 4)[test] == 1).sum())
        (9, 3, 1)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[: max(1, round(test_fraction * len(members)))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return rng.permutation(train_idx), test_idx


def _balanced_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` indices, as equal a number per class as the classes allow, seeded."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    # Rank of each sample within its class in the random order; take ranks 0, 1, … in turn.
    ranks = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = order[labels[order] == c]
        ranks[members] = np.arange(len(members))
    chosen = order[np.argsort(ranks[order], kind="stable")][:size]
    return np.sort(chosen)


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset seeds NumPy's and Python's global generators: keep the caller's streams.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        # make_dataset generates locally; get_dataset would download a pickle from GitHub.
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return data["x"], data["y"], data["x_test"], data["y_test"]


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }[name]
    bunch = loader()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def _mnist_arrays(root: Path) -> tuple[np.ndarray, ...]:
    arrays = []
    for stem in _MNIST_FILES.values():
        candidates = [root / stem, root / f"{stem}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"mnist: no {stem}[.gz] in {root}; put the four MNIST IDX files there "
                f"({', '.join(_MNIST_FILES.values())}) — infodyn never downloads them"
            )
        arrays.append(read_idx(path))
    x_train, y_train, x_test, y_test = arrays
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"mnist {split}: images {x.shape} and labels {y.shape} do not pair up "
                f"(expected (N, rows, cols) and (N,))"
            )
    return x_train, y_train, x_test, y_test


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    train_size: int | None = None,
    test_fraction: float = 0.25,
    root: str | Path | None = None,
) -> Dataset:
    """Load a dataset by name (see the module table), split and ready for a model.

    Args:
        name: One of :data:`DATASETS`.
        seed: Seeds the split (where the dataset has none of its own) and the subset.
        train_size: Keep a class-balanced subset of this many training samples (None: all).
        test_fraction: Test share of datasets without a split of their own.
        root: Folder of the MNIST IDX files (``mnist`` only).

    Raises:
        ValueError: an unknown name (the message lists the known ones), a ``train_size``
            larger than the training split or below the number of classes.

    Example:
        >>> data = load_dataset("iris", seed=0, train_size=30)
        >>> data.input_shape, data.x_train.shape[0], data.num_classes
        ((4,), 30, 3)
        >>> data.y_train.bincount().tolist()
        [10, 10, 10]
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; the shipped ones are {', '.join(DATASETS)}")
    if name == "mnist":
        if root is None:
            raise ValueError(
                "dataset 'mnist' reads IDX files: pass root= (the folder holding them)"
            )
        x_tr, y_tr, x_te, y_te = _mnist_arrays(Path(root))
        x_tr, x_te = x_tr[:, None] / 255.0, x_te[:, None] / 255.0
    elif name == "mnist1d":
        x_tr, y_tr, x_te, y_te = _mnist1d_arrays()
        x_tr, x_te = x_tr[:, None], x_te[:, None]
    else:
        x, y = _sklearn(name)
        train_idx, test_idx = stratified_split(y, test_fraction, seed)
        x_tr, y_tr, x_te, y_te = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
        if name == "digits":
            x_tr, x_te = x_tr.reshape(-1, 1, 8, 8) / 16.0, x_te.reshape(-1, 1, 8, 8) / 16.0
        else:
            mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
            std[std == 0] = 1.0
            x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    num_classes = int(max(y_tr.max(), y_te.max())) + 1
    if train_size is not None:
        if isinstance(train_size, bool) or not num_classes <= train_size <= len(y_tr):
            raise ValueError(
                f"train_size must be an int in [{num_classes}, {len(y_tr)}] for {name} "
                f"(classes, training samples), got {train_size!r}"
            )
        keep = _balanced_subset(np.asarray(y_tr), train_size, seed)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    return Dataset(
        name,
        torch.as_tensor(np.asarray(x_tr), dtype=torch.float32),
        torch.as_tensor(np.asarray(y_tr), dtype=torch.int64),
        torch.as_tensor(np.asarray(x_te), dtype=torch.float32),
        torch.as_tensor(np.asarray(y_te), dtype=torch.int64),
        num_classes,
    )
