"""Shipped datasets and the MNIST IDX reader (on small files the tests write)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from infodyn.data import DATASETS, load_dataset, read_idx, stratified_split, write_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path: Path, dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        array = np.abs(array)
    write_idx(tmp_path / "a", array)
    got = read_idx(tmp_path / "a")
    assert got.dtype == array.dtype and np.array_equal(got, array)


def test_idx_header_is_the_mnist_one(tmp_path: Path) -> None:
    write_idx(tmp_path / "images", np.zeros((3, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "images").read_bytes()
    # magic 0x00000803, then 3, 28, 28 as big-endian uint32
    assert raw[:16].hex() == "00000803000000030000001c0000001c"
    assert len(raw) == 16 + 3 * 28 * 28


def test_idx_wrong_magic_and_truncation_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="magic number 0x01020801 is not an IDX one"):
        read_idx(bad)
    write_idx(tmp_path / "ok", np.arange(10, dtype=np.uint8))
    data = (tmp_path / "ok").read_bytes()
    (tmp_path / "short").write_bytes(data[:-3])
    with pytest.raises(
        ValueError,
        match=r"15 bytes, but the header \(shape \(10,\), uint8\) says 18; the file is truncated",
    ):
        read_idx(tmp_path / "short")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(data)
    (tmp_path / "cut.gz").write_bytes((tmp_path / "short.gz").read_bytes()[:-6])
    with pytest.raises(ValueError, match="cannot read the IDX file"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(FileNotFoundError, match="no IDX file"):
        read_idx(tmp_path / "missing")


def _write_mnist(root: Path, *, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = np.arange(20, dtype=np.uint8) % 10
    for stem, array in (
        ("train-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", labels),
        ("t10k-images-idx3-ubyte", images[:10]),
        ("t10k-labels-idx1-ubyte", labels[:10]),
    ):
        write_idx(root / stem, array)
        if gz:
            (root / f"{stem}.gz").write_bytes(gzip.compress((root / stem).read_bytes()))
            (root / stem).unlink()
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_idx_files(tmp_path: Path, gz: bool) -> None:
    images, labels = _write_mnist(tmp_path, gz=gz)
    data = load_dataset("mnist", root=tmp_path)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert torch.allclose(data.x_train[:, 0], torch.from_numpy(images / 255.0).float())
    assert data.y_train.tolist() == labels.tolist() and data.x_test.shape[0] == 10


def test_mnist_missing_file_or_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pass root="):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte"):
        load_dataset("mnist", root=tmp_path)


def test_unknown_dataset_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; the shipped ones are digits"):
        load_dataset("cifar")


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_shipped_splits_are_seeded_stratified_and_disjoint(name: str) -> None:
    a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    total = a.y_train.numel() + a.y_test.numel()
    share = np.bincount(a.y_test.numpy()) / np.bincount(
        np.concatenate([a.y_train.numpy(), a.y_test.numpy()])
    )
    assert np.allclose(share, 0.25, atol=0.05) and total in (1797, 150, 178, 569)
    train_idx, test_idx = stratified_split(np.arange(total) % 3, 0.25, seed=3)
    assert sorted([*train_idx, *test_idx]) == list(range(total))  # disjoint, complete


def test_tabular_features_are_standardised_on_the_training_split() -> None:
    data = load_dataset("wine", seed=0)
    assert torch.allclose(data.x_train.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(data.x_train.std(0, unbiased=False), torch.ones(13), atol=1e-4)


def test_train_size_keeps_a_balanced_seeded_subset() -> None:
    data = load_dataset("digits", seed=1, train_size=105)
    counts = data.y_train.bincount().tolist()
    assert sum(counts) == 105 and max(counts) - min(counts) <= 1
    with pytest.raises(ValueError, match=r"train_size must be an int in \[10, 1347\]"):
        load_dataset("digits", train_size=5)


def test_mnist1d_is_generated_locally_and_leaves_the_global_rngs_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("mnist1d must not download")

    monkeypatch.setattr(requests, "get", no_network)
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    expected = (np.random.rand(), random.random())  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    data = load_dataset("mnist1d")
    assert (np.random.rand(), random.random()) == expected  # noqa: NPY002
    assert data.input_shape == (1, 40) and data.x_train.shape[0] == 4000


def test_stratified_split_rejects_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="test_fraction must lie in"):
        stratified_split(np.zeros(4, dtype=np.int64), 1.0, seed=0)
    assert "mnist" in DATASETS
