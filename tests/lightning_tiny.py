"""A tiny Lightning classifier fitted with InfodynCallback; run as a script for the DDP test.

python tests/lightning_tiny.py OUT --devices 2 --strategy ddp
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from infodyn.families import MeasureCaps
from infodyn.integrations.lightning import InfodynCallback
from infodyn.metrics import MatrixInformation, NeuralCollapse, Richness

SAMPLES, CLASSES = 240, 3


def data(seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(SAMPLES) % CLASSES
    x = torch.randn(SAMPLES, 5, generator=g, dtype=torch.float64)
    x[:, :CLASSES] += 2.0 * nn.functional.one_hot(y, CLASSES).double()
    return TensorDataset(x, y)


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.1, batch: int = 40) -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, CLASSES)
        ).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y), sync_dist=True)

    def _loader(self, seed: int) -> DataLoader:
        # In order, never shuffled: under DDP rank r takes samples r, r + 2, …, so each step
        # of two ranks with half the batch sees the samples of one process's step.
        dataset = data(seed)
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = DistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=self.hparams.batch, sampler=sampler)

    def train_dataloader(self) -> DataLoader:
        return self._loader(0)

    def val_dataloader(self) -> DataLoader:
        return self._loader(1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def exact_metrics() -> dict[str, Any]:
    """Metrics whose DDP reduction is exact (sums; every sample gathered, order-free)."""
    return {
        "collapse": NeuralCollapse(num_classes=CLASSES),
        "matrix": MatrixInformation(mode="pooled", max_samples=SAMPLES),
        "richness": Richness(max_samples=SAMPLES),
    }


def fit(
    out: Path,
    *,
    devices: int = 1,
    strategy: str = "auto",
    mode: str = "eval",
    epochs: int = 2,
    lr: float = 0.1,
    families: Any = None,
    ckpt_path: str | None = None,
    checkpoint_dir: Path | None = None,
) -> Classifier:
    torch.set_num_threads(1)
    callback = InfodynCallback(
        families if families is not None else exact_metrics(),
        out=out,
        mode=mode,  # type: ignore[arg-type]
        caps=MeasureCaps(richness_samples=SAMPLES, ib_samples=SAMPLES),
    )
    callbacks: list[pl.Callback] = [callback]
    if checkpoint_dir is not None:
        callbacks.append(pl.callbacks.ModelCheckpoint(checkpoint_dir, save_last=True))
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=checkpoint_dir is not None,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,
        use_distributed_sampler=False,  # the module's loaders pick their samplers
    )
    module = Classifier(lr, batch=40 // devices)  # per-rank batch: 2 × 20 = one process's 40
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and log sync
        trainer.fit(module, ckpt_path=ckpt_path)
    return module


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--mode", default="eval")
    args = parser.parse_args()
    fit(args.out, devices=args.devices, strategy=args.strategy, mode=args.mode)
    # Lightning leaves the gloo group up; tearing it down before the interpreter exits keeps
    # its threads from aborting the process at exit ("terminate called without an active
    # exception", seen once in CI after a finished fit).
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
