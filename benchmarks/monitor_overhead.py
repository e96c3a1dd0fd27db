"""Monitor overhead on the default grokking run, and what subsampled MIR/HDR costs in accuracy.

Times, in one process and on the same data, (a) the bare training loop that only evaluates
loss and accuracy every ``log_every`` steps, and (b) ``infodyn run grokking`` with its metrics,
SQLite store and checkpoints (figures and report excluded: they are drawn once, after training).
Then compares the MIR/HDR measured on the fixed evaluation subsets with the values on the
whole split at the final step.

    python benchmarks/monitor_overhead.py [--steps 7000] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from _bench import print_machine_header
from infodyn.data.modular import split_modular
from infodyn.experiments._training import full_batch_step, loss_and_accuracy
from infodyn.experiments.grokking import GrokkingConfig, build_grokking, run_grokking
from infodyn.functional import head_rows, matrix_information
from infodyn.models.mlp import ModularMLP
from infodyn.rundir import RunDir


def baseline(config: GrokkingConfig) -> tuple[float, ModularMLP]:
    """The same loop with no infodyn: loss and accuracy kept in a Python list."""
    data, model, optimizer = build_grokking(config)
    history = []
    start = time.perf_counter()
    for step in range(config.steps + 1):
        if step > 0:
            full_batch_step(model, optimizer, data.x_train, data.y_train)
        if step % config.monitor.log_every == 0 or step == config.steps:
            history.append((step, loss_and_accuracy(model, data.x_train, data.y_train)))
            history.append((step, loss_and_accuracy(model, data.x_test, data.y_test)))
    return time.perf_counter() - start, model


def whole_split_values(config: GrokkingConfig, model: ModularMLP) -> dict[str, dict[str, float]]:
    data = split_modular(config.data.modulus, config.data.train_fraction, seed=config.seed)
    out = {}
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        with torch.no_grad():
            features = model.act(model.hidden(model.embed(x).flatten(1)))
        result = matrix_information(features, head_rows(model.head.weight.detach(), y))
        out[split] = {"mir": float(result.mir), "hdr": float(result.hdr), "n": len(y)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=GrokkingConfig().steps)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved baseline/infodyn pairs")
    args = parser.parse_args()
    config = GrokkingConfig(steps=args.steps, threads=args.threads)
    torch.set_num_threads(args.threads)
    print_machine_header(f"steps = {config.steps}")

    # Interleaved repeats: this VM's speed drifts by several percent over minutes, so each
    # infodyn run is compared with the baseline run just before it.
    pairs = []
    for _ in range(args.repeats):
        base_s, base_model = baseline(config)
        with tempfile.TemporaryDirectory() as tmp:
            run = RunDir.create(Path(tmp) / "run", config.model_dump(mode="json"))
            start = time.perf_counter()
            final = run_grokking(config, run, lambda step, total: None)
            infodyn_s = time.perf_counter() - start
            with run.store(readonly=True) as store:
                monitor_s = float(store.get_meta("monitor_time_s"))
                points = len(store.series("mir", "train")[0])
        pairs.append((base_s, infodyn_s, monitor_s))
        print(
            f"baseline loop (loss+accuracy only) {base_s:8.2f} s | infodyn run (metrics+store+"
            f"ckpt) {infodyn_s:8.2f} s, {monitor_s:.2f} s inside the monitor | "
            f"ratio {infodyn_s / base_s:.3f}x"
        )
    ratios = sorted(i / b for b, i, _ in pairs)
    total_ratio = sum(i for _, i, _ in pairs) / sum(b for b, _, _ in pairs)
    print(f"({points} MIR/HDR points per split)")
    print(
        f"overhead ratio: {total_ratio:.3f}x over {len(pairs)} interleaved pair(s), "
        f"per pair {', '.join(f'{r:.3f}' for r in ratios)}   (goal <= 1.10x)"
    )
    monitor_share = sum(m for *_, m in pairs) / sum(b for b, _, _ in pairs)
    print(f"time inside the monitor / baseline: {1 + monitor_share:.3f}x")

    print(
        "\nsubsampling cost at the final step (subset of "
        f"{config.monitor.eval_samples} vs whole split):"
    )
    whole = whole_split_values(config, base_model)
    for split in ("train", "test"):
        for key in ("mir", "hdr"):
            sub = final[f"{split}_{key}"]
            full = whole[split][key]
            print(
                f"  {split:5s} {key}: subset {sub:.4f}  whole ({whole[split]['n']}) {full:.4f}  "
                f"|diff| {abs(sub - full):.4f}"
            )


if __name__ == "__main__":
    main()
