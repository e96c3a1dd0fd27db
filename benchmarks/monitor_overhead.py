"""Monitor overhead on the default grokking run, and what subsampled MIR/HDR costs in accuracy.

Times, in one process and on the same data, (a) the bare training loop that only evaluates
loss and accuracy every ``log_every`` steps, and (b) ``infodyn run grokking`` with its metrics,
SQLite store and checkpoints (figures and report excluded: they are drawn once, after training),
once per capture mode asked for: ``eval`` measures the train split by a separate evaluation pass,
``live`` takes it from the training forward pass itself. Then compares the MIR/HDR measured on
the fixed evaluation subsets with the values on the whole split at the final step.

    python benchmarks/monitor_overhead.py [--steps 7000] [--threads 2] [--capture eval live]
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
from infodyn.experiments.grokking import GROKKING, GrokkingConfig, build_grokking
from infodyn.functional import head_rows, matrix_information
from infodyn.loop import RunLoop, seed_everything
from infodyn.models.mlp import ModularMLP
from infodyn.rundir import RunDir


def baseline(config: GrokkingConfig) -> tuple[float, ModularMLP]:
    """The same loop with no infodyn: loss and accuracy kept in a Python list."""
    seed_everything(config.seed)
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


def timed_run(config: GrokkingConfig) -> tuple[float, float, dict[str, float], int, dict]:
    """Wall time, monitor time, monitor time by part, MIR points, final values of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create(Path(tmp) / "run", config.model_dump(mode="json"))
        start = time.perf_counter()
        final = RunLoop(GROKKING, config, run).run()
        wall_s = time.perf_counter() - start
        with run.store(readonly=True) as store:
            monitor_s = float(store.get_meta("monitor_time_s"))
            parts = store.get_meta("monitor_times")
            points = len(store.series("mir", "train")[0])
    return wall_s, monitor_s, parts, points, final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=GrokkingConfig().steps)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved baseline/infodyn pairs")
    parser.add_argument(
        "--capture", nargs="+", choices=("eval", "live"), default=["eval"],
        help="capture modes of the train split to time (each against the same baseline)",
    )  # fmt: skip
    args = parser.parse_args()
    base_config = GrokkingConfig(steps=args.steps, threads=args.threads)
    torch.set_num_threads(args.threads)
    print_machine_header(f"steps = {base_config.steps}, capture modes {args.capture}")

    # Interleaved repeats: this VM's speed drifts by several percent over minutes, so each
    # infodyn run is compared with the baseline run just before it.
    pairs: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in args.capture}
    finals = {}
    for _ in range(args.repeats):
        base_s, base_model = baseline(base_config)
        for mode in args.capture:
            config = base_config.model_copy(
                update={"monitor": base_config.monitor.model_copy(update={"capture": mode})}
            )
            wall_s, monitor_s, parts, points, finals[mode] = timed_run(config)
            pairs[mode].append((base_s, wall_s, monitor_s))
            split = ", ".join(f"{k} {v:.2f}" for k, v in sorted(parts.items()))
            print(
                f"[{mode:4s}] baseline loop (loss+accuracy only) {base_s:8.2f} s | infodyn run "
                f"(metrics+store+ckpt) {wall_s:8.2f} s, {monitor_s:.2f} s inside the monitor "
                f"({split}) | ratio {wall_s / base_s:.3f}x  ({points} train MIR points)"
            )
    for mode, runs in pairs.items():
        ratios = sorted(i / b for b, i, _ in runs)
        total_ratio = sum(i for _, i, _ in runs) / sum(b for b, _, _ in runs)
        monitor_share = sum(m for *_, m in runs) / sum(b for b, _, _ in runs)
        print(
            f"[{mode:4s}] overhead ratio: {total_ratio:.3f}x over {len(runs)} interleaved "
            f"pair(s), per pair {', '.join(f'{r:.3f}' for r in ratios)}   (goal <= 1.10x); "
            f"time inside the monitor / baseline: {1 + monitor_share:.3f}x"
        )

    final = finals[args.capture[0]]
    print(
        "\nsubsampling cost at the final step (subset of "
        f"{base_config.monitor.eval_samples} vs whole split, capture {args.capture[0]}):"
    )
    whole = whole_split_values(base_config, base_model)
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
