"""A run crashed mid-way and resumed, beside the same run uninterrupted (resume tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infodyn.experiments.base import ExperimentConfig
from infodyn.loop import RunLoop
from infodyn.rundir import RunDir

__all__ = ["Crash", "crashed_and_resumed"]


class Crash(RuntimeError):
    """Raised from the progress callback: the run dies right after a chosen step."""


def crashed_and_resumed(
    experiment: Any, config: ExperimentConfig, root: Path, crash_step: int
) -> tuple[RunDir, RunDir]:
    """``(reference, crashed)``: ``config`` run to the end, and run again in a second
    directory, crashed after step ``crash_step`` and resumed from its last checkpoint."""

    def crash(step: int, total: int) -> None:
        if step == crash_step:
            raise Crash

    reference = RunDir.create(root / "reference", config.model_dump(mode="json"))
    RunLoop(experiment, config, reference).run()
    crashed = RunDir.create(root / "crashed", config.model_dump(mode="json"))
    with pytest.raises(Crash):
        RunLoop(experiment, config, crashed, progress=crash).run()
    RunLoop(experiment, config, crashed).run()
    return reference, crashed
