"""Shared test settings: one torch thread per test process (the CI machine has 2 cores), and
tests marked ``cuda`` skipped where no GPU is present."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
