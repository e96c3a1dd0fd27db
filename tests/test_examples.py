"""The all-families example runs end to end on a tiny config and leaves every figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_monitor_digits_example_writes_every_family_figure(tmp_path: Path) -> None:
    cmd = [sys.executable, str(EXAMPLES / "monitor_digits.py"), "--out", str(tmp_path)]
    cmd += ["--steps", "20", "--points", "4", "--threads", "1"]
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False
    )
    assert result.returncode == 0, result.stderr
    (run,) = tmp_path.iterdir()
    figures = {p.name for p in (run / "figures").iterdir()}
    assert figures == {
        "training.png",
        "matrix_information.png",
        "neural_collapse.png",
        "information_bottleneck.png",
        "transfer_entropy.png",
        "richness.png",
        "timeline.png",  # what moves first (infodyn explain)
    }
    assert "data:image/png;base64," in (run / "report.html").read_text()
