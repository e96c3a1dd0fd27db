"""Two CPU processes with the gloo backend give the single-process result (DDP reduction)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torchmetrics import Metric

from infodyn.functional import transfer_entropy_from_counts, transition_counts
from infodyn.metrics import (
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
    TransferEntropy,
)

WORLD = 2
BATCHES = 4


def _batches() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    head = torch.randn(5, 16, generator=gen)
    return [
        (torch.randn(40, 16, generator=gen), head, torch.randint(0, 5, (40,), generator=gen))
        for _ in range(BATCHES)
    ]


def _worker(rank: int, init_file: str, mode: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        metric = MatrixInformation(mode=mode, max_samples=1000)  # type: ignore[arg-type]
        for features, head, labels in _batches()[rank::WORLD]:  # each rank sees half the batches
            metric.update(features, head, labels)
        values = {k: float(v) for k, v in metric.compute().items()}
        torch.save(values, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("mode", ["batch_mean", "pooled"])
def test_two_gloo_ranks_equal_one_process(mode: str, tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), mode, str(tmp_path)), nprocs=WORLD, join=True)
    single = MatrixInformation(mode=mode, max_samples=1000)  # type: ignore[arg-type]
    # Gathering concatenates rank 0's rows before rank 1's: feed the single process that order.
    for features, head, labels in [*_batches()[0::WORLD], *_batches()[1::WORLD]]:
        single.update(features, head, labels)
    expected = {k: float(v) for k, v in single.compute().items()}
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


def _te_series(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(10 + rank)
    return torch.randint(0, 2, (300, 6), generator=gen), torch.randint(
        0, 2, (300, 3), generator=gen
    )


def _te_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        metric = TransferEntropy(6, 3)
        x, y = _te_series(rank)
        for lo in range(0, 300, 70):  # batches in processing order
            metric.update(x[lo : lo + 70], y[lo : lo + 70])
        torch.save(metric.compute()["te"], os.path.join(out_dir, f"te{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_transfer_entropy_counts_add_across_ranks(tmp_path: Path) -> None:
    """Each rank's stream is one trial; the reduced counts pool both trials exactly."""
    mp.spawn(_te_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    pooled = transition_counts(*_te_series(0)) + transition_counts(*_te_series(1))
    expected = transfer_entropy_from_counts(pooled)
    for rank in range(WORLD):
        assert torch.equal(torch.load(tmp_path / f"te{rank}.pt", weights_only=True), expected)


def _te_buffered_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        metric = TransferEntropy(6, 3, buffer_samples=1000)  # every observation waits
        x, y = _te_series(rank)
        for lo in range(0, 210, 70):
            metric.update(x[lo : lo + 70], y[lo : lo + 70])
        first = metric.compute()["te"]  # counts the waiting rows, then reduces
        local = int(metric.observations)  # after the unsync: this rank's own counts
        metric.update(x[210:], y[210:])
        second = metric.compute()["te"]
        torch.save(
            {"first": first, "local": torch.tensor(local), "second": second},
            os.path.join(out_dir, f"buffered{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_buffered_transfer_entropy_counts_before_the_reduction(tmp_path: Path) -> None:
    """Waiting observations are counted before the sync caches the local states, so both the
    reduced values and each rank's own counts after compute() are complete."""
    mp.spawn(
        _te_buffered_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True
    )
    (xa, ya), (xb, yb) = _te_series(0), _te_series(1)
    first = transfer_entropy_from_counts(
        transition_counts(xa[:210], ya[:210]) + transition_counts(xb[:210], yb[:210])
    )
    second = transfer_entropy_from_counts(transition_counts(xa, ya) + transition_counts(xb, yb))
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"buffered{rank}.pt", weights_only=True)
        assert torch.equal(got["first"], first)
        assert int(got["local"]) == 209
        assert torch.equal(got["second"], second)


def _lazy_batches() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(3)
    out = []
    for _ in range(BATCHES):
        labels = torch.arange(30) % 3
        features = 3.0 * torch.eye(3, 8)[labels] + torch.randn(30, 8, generator=gen)
        out.append((features, features @ torch.randn(8, 3, generator=gen), labels))
    return out


def _lazy_metrics() -> dict[str, Metric]:
    return {
        "neural_collapse": NeuralCollapse(3, measures=["rnc1", "nc1", "cdnv"]),
        "richness": Richness(mode="covariance"),
        "layer_te": LayerTransferEntropy(["block.0"], q=0.8),
    }


def _feed(metrics: dict[str, Metric], batch: tuple[torch.Tensor, ...]) -> None:
    features, logits, labels = batch
    metrics["neural_collapse"].update(features, labels)
    metrics["richness"].update(features, logits, labels)
    metrics["layer_te"].update({"block.0": features}, logits)


def _flat(values: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= {f"{key}/{k}": v for k, v in _flat(value).items()}
        else:
            out[key] = value
    return out


def _idle_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        metrics = _lazy_metrics()
        if rank == 0:  # rank 1 sees no batch: its lazily sized states are still placeholders
            for batch in _lazy_batches():
                _feed(metrics, batch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "compute before update" on rank 1
            values = {name: _flat(m.compute()) for name, m in metrics.items()}
        torch.save(values, os.path.join(out_dir, f"idle{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_a_rank_that_saw_no_batch_joins_the_reduction_of_lazily_sized_metrics(
    tmp_path: Path,
) -> None:
    """Ranks agree on the widths before the all-reduce, so an idle rank's placeholders widen
    to zeros and both ranks compute what one process fed every batch computes."""
    mp.spawn(_idle_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    single = _lazy_metrics()
    for batch in _lazy_batches():
        _feed(single, batch)
    expected = {name: _flat(m.compute()) for name, m in single.items()}
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"idle{rank}.pt", weights_only=True)
        assert set(got) == set(expected)
        for name, values in expected.items():
            assert set(got[name]) == set(values), name
            for key, value in values.items():
                torch.testing.assert_close(got[name][key], value, rtol=1e-12, atol=1e-12)
