"""Every metric family on one model through the spine: Monitor → run store → figures → report.

A small MLP (64 → 128 → 128 → 10, initial weights ×8, AdamW with weight decay) trains on 1,000
scikit-learn digits; at log-spaced steps one ``Monitor`` measures, each with one probe line,
matrix information, neural collapse, the information-bottleneck estimates, dynamical richness
and transfer entropy between adjacent layers, on fixed train and test subsets. The run
directory then holds ``run.sqlite``, every figure and ``report.html``, all drawn from the
store.

    python examples/monitor_digits.py --out runs            # ~1 minute on 2 threads
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

from infodyn import Monitor, Probe, RunDir, log_spaced
from infodyn.experiments._training import loss_and_accuracy
from infodyn.metrics import (
    InformationPlane,
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
)
from infodyn.monitor import batches_of
from infodyn.report import write_report
from infodyn.rundir import new_run_dir
from infodyn.viz import draw_run_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--points", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = order[:1000], order[1000:]
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(8.0)  # large initialisation: fit first, generalise later
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.3)

    config = {"experiment": "monitor-digits", "steps": args.steps, "points": args.points}
    run = RunDir.create(new_run_dir(args.out, "monitor-digits"), config)
    store = run.store()
    when = log_spaced(1, args.steps, args.points)
    monitor = Monitor(
        model,
        store,
        {
            "matrix": Probe(MatrixInformation(), when),
            "collapse": Probe(NeuralCollapse(num_classes=10), when),
            "bottleneck": Probe(InformationPlane(max_samples=500), when),
            "richness": Probe(Richness(), when),
            "te": Probe(LayerTransferEntropy(["1", "3"]), when),
        },
    )
    for step in range(args.steps + 1):
        if step > 0:
            batch = torch.randint(0, len(train), (100,))
            optimizer.zero_grad()
            F.cross_entropy(model(x[train][batch]), y[train][batch]).backward()
            optimizer.step()
        if when(step):
            for split, idx in (("train", train), ("test", test)):
                monitor.log(step, split, loss_and_accuracy(model, x[idx], y[idx]))
                monitor.measure(step, split, batches_of(x[idx], y[idx], 500)())
            monitor.flush()
    store.set_meta("monitor_time_s", monitor.elapsed_s)
    store.close()
    for path in draw_run_figures(run):
        print(f"figure: {path}")
    print(f"report: {write_report(run, redraw=False)}")


if __name__ == "__main__":
    main()
