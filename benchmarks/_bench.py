"""Helpers shared by the benchmark scripts: commit, machine header, timing and peak memory.

The scripts run as ``python benchmarks/<name>.py``, which puts this folder on ``sys.path``, so
they import from here with ``from _bench import ...``; so do their fresh subprocesses, which
re-run the same script file.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")

# Freed buffers go back to the system instead of being reused out of sight.
_MALLOC_MMAP_THRESHOLD = str(128 * 1024)


def git_commit() -> str:
    """Short hash of HEAD of the checkout holding the benchmarks, or why there is none."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout, or no commit yet)"
    return out.stdout.strip()


def print_machine_header(
    sizes: str,
    *,
    libraries: Sequence[tuple[str, str]] = (),
    notes: Sequence[tuple[str, str]] = (),
) -> None:
    """Print the ``machine`` block (platform, processor, torch threads, commit, sizes), then a
    blank line; ``libraries`` rows go after torch, ``notes`` rows after sizes."""
    rows = [
        ("platform", f"{platform.platform()} ({platform.machine()})"),
        ("processor", f"{platform.processor() or 'unknown'}; os.cpu_count() = {os.cpu_count()}"),
        ("torch", f"{torch.__version__}, {torch.get_num_threads()} thread(s)"),
        *libraries,
        ("commit", git_commit()),
        ("sizes", sizes),
        *notes,
    ]
    print("machine")
    for label, text in rows:
        print(f"  {label:<12} {text}")
    print()


def timed(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median wall time over ``repeats`` (≥ 1) calls, and the value of the last call."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (after the caller's warm-up)."""
    return timed(fn, repeats)[0]


def proc_status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (Linux) in MiB, or None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """The process's peak resident set size so far.

    Linux: VmHWM, the peak of this process's own memory map. ``ru_maxrss`` would do elsewhere,
    but in a child started by a (large) parent it also counts the parent's RSS at the
    fork/exec, which hides everything below it. ru_maxrss is KiB on Linux, bytes on macOS.
    """
    peak = proc_status_mib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def current_rss_mib() -> float:
    """Resident set size now (Linux /proc); NaN where unavailable."""
    rss = proc_status_mib("VmRSS")
    return float("nan") if rss is None else rss


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux ≥ 4.0: ``5`` > /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_increase(fn: Callable[[], object]) -> dict[str, Any]:
    """Peak-RSS increase (MiB) during ``fn()``, the peak reset first where Linux allows it.

    Call it after imports and warm-up: their peak would otherwise hide the call's own.
    """
    peak_before_reset = peak_rss_mib()
    was_reset = reset_peak_rss()
    rss, before = current_rss_mib(), peak_rss_mib()
    fn()
    after = peak_rss_mib()
    return {
        "peak_before_reset_mib": peak_before_reset,
        "reset": was_reset,
        "rss_before_mib": rss,
        "peak_before_mib": before,
        "peak_after_mib": after,
        "increase_mib": after - before,
    }


def measure_in_subprocess(script: str | Path, argv: Sequence[str]) -> dict[str, Any]:
    """Run ``script`` with ``argv`` in a fresh Python; return the JSON of its last stdout line.

    A fresh process keeps the parent's earlier allocations out of the child's peak RSS;
    ``MALLOC_MMAP_THRESHOLD_`` makes freed buffers go back to the system.
    """
    command = [sys.executable, str(Path(script).resolve()), *argv]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": _MALLOC_MMAP_THRESHOLD}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


GoalRow = tuple[str, str, str, bool | None]
"""(quantity, measured value, goal, met?) — ``None`` for a reference row without a goal."""


def print_goal_table(rows: list[GoalRow], *, width: int = 28) -> None:
    """Print the closing summary: one row per quantity, with "met" / "NOT met" against its goal."""
    header = f"{'summary':<{width}} {'value':>10} {'goal':>12}  verdict"
    print(header)
    print("-" * len(header))
    for name, value, goal, ok in rows:
        verdict = "" if ok is None else ("met" if ok else "NOT met")
        print(f"{name:<{width}} {value:>10} {goal:>12}  {verdict}")
