"""The lag-1 null example runs end to end on a tiny config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_lag1_nulls_example_prints_every_epoch_and_pair() -> None:
    cmd = [sys.executable, str(EXAMPLES / "te_lag1_nulls.py"), "--data", "iris"]
    cmd += ["--epochs", "2", "--surrogates", "20", "--orders", "2"]
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert [(r[0], r[1]) for r in rows] == [
        ("1", "h1->h2"), ("1", "h3->softmax"), ("2", "h1->h2"), ("2", "h3->softmax"),
    ]  # fmt: skip
    assert all(float(v) >= 0 for r in rows for v in r[2:])
