"""The live benchmark's ResNet under torchrun (2 gloo ranks) records what one process records.

Runs ``benchmarks/live_ddp.py`` small (2 blocks × 8 channels, 2 epochs): every family recorded
live under DDP must equal the one-process reference on the same batches to 1e-6, while the
same data fed as one interleaved stream must differ (TE, information plane) — the comparison
can tell orders apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "live_ddp.py"
FAMILIES = {"matrix", "te", "collapse", "information_plane", "richness"}


def test_torchrun_two_gloo_ranks_record_the_one_process_values(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(SCRIPT), "--blocks", "2", "--channels", "8", "--epochs", "2",
        "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary["max_diff"]) == FAMILIES
    assert summary["records"] >= 2 * 30  # two epoch-end records of every family
    assert max(summary["max_diff"].values()) <= 1e-6
    assert summary["met"] is True
    # Rank after rank with a series break is what the reduction means; one interleaved stream
    # is not: TE pools other transitions and the information plane keeps other rows.
    assert summary["interleaved_diff"]["te"] > 1e-4
    assert summary["interleaved_diff"]["information_plane"] > 1e-4
    assert (tmp_path / "run" / "ddp.sqlite").exists()
