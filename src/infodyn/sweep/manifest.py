"""The sweep manifest: ``sweep.json`` at the root of a sweep directory.

Layout of a sweep directory::

    <sweep>/sweep.json        this manifest (written atomically by the driver alone)
    <sweep>/<run name>/       one ordinary run directory per (grid point, seed); a failed
                              run's holds error.txt (exception and end of its traceback)
    <sweep>/.sweep.lock       advisory lock: one driver per sweep directory at a time
    <sweep>/<run name>.snapshot.tar
                              transient: a run directory shipped by a Ray worker, between
                              its atomic write and its install (see infodyn.sweep.archive)

The manifest records the command's grid, seeds and fixed overrides, and per run its grid
point, seed, full config and state. Re-running the same command reads it back to skip
finished runs and resume unfinished ones; a manifest written by a different command (other
experiment, grid, seeds or overrides) is refused rather than mixed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from infodyn.rundir import atomic_write_text

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "SweepManifest",
    "SweepRun",
    "load_manifest",
    "save_manifest",
]

MANIFEST_NAME = "sweep.json"
MANIFEST_FORMAT = "infodyn-sweep-v1"

RunState = Literal["pending", "running", "finished", "failed"]


class SweepRun(BaseModel):
    """One (grid point, seed) of a sweep.

    Attributes:
        name: Its run directory's name, relative to the sweep directory.
        point: The grid values of this run, ``{dotted.key: value}``.
        seed: Its seed.
        config: The full validated experiment config it runs with.
        state: ``pending`` → ``running`` → ``finished`` or ``failed``.
        error: The failure's type and message when ``state == "failed"``.
        resumed_from: The newest checkpoint step in the run directory when its latest attempt
            started (it resumes from there), or None when that attempt started from step 0.
            Added in the sweep command; older manifests without it read as None.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    point: dict[str, Any]
    seed: int
    config: dict[str, Any]
    state: RunState = "pending"
    error: str | None = None
    resumed_from: int | None = None


class SweepManifest(BaseModel):
    """What a sweep directory holds and how it was asked for.

    Attributes:
        format: Always ``infodyn-sweep-v1``.
        experiment: The experiment every run belongs to.
        grid: ``{dotted.key: [values…]}`` in the order given on the command line.
        seeds: The seeds every grid point runs with.
        overrides: The ``--set key=value`` items shared by every run.
        runs: One entry per (grid point, seed), grid-major.
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["infodyn-sweep-v1"] = "infodyn-sweep-v1"
    experiment: str
    grid: dict[str, list[Any]]
    seeds: list[int]
    overrides: list[str] = []
    runs: list[SweepRun] = []

    def same_request(self, other: SweepManifest) -> bool:
        """Whether ``other`` asks for the same runs (experiment, grid, seeds, overrides)."""
        return not self.differences(other)

    def differences(self, other: SweepManifest) -> list[str]:
        """How ``other`` asks for different runs, one ``"field: ours vs theirs"`` line each.

        Example:
            >>> a = SweepManifest(experiment="grokking", grid={"steps": [10, 20]}, seeds=[0])
            >>> b = a.model_copy(update={"seeds": [0, 1]})
            >>> a.differences(b)
            ['seeds: [0] vs [0, 1]']
            >>> a.differences(a)
            []
        """
        fields = {
            "experiment": (self.experiment, other.experiment),
            # Key order matters: it orders the runs and names their directories.
            "grid": (list(self.grid.items()), list(other.grid.items())),
            "seeds": (self.seeds, other.seeds),
            "overrides": (sorted(self.overrides), sorted(other.overrides)),
        }
        shown = {"grid": (self.grid, other.grid)}
        return [
            f"{name}: {shown.get(name, pair)[0]!r} vs {shown.get(name, pair)[1]!r}"
            for name, pair in fields.items()
            if pair[0] != pair[1]
        ]


def load_manifest(directory: str | Path) -> SweepManifest:
    """Read ``directory/sweep.json``.

    Raises:
        FileNotFoundError: there is no manifest (not a sweep directory).
        ValueError: the file is not an infodyn sweep manifest; the message says what is wrong.
    """
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not an infodyn sweep directory (no {MANIFEST_NAME}); pass the "
            f"--out folder of `infodyn sweep`"
        )
    try:
        return SweepManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as err:
        raise ValueError(f"{path} is not an infodyn sweep manifest: {err}") from None


def save_manifest(directory: str | Path, manifest: SweepManifest) -> Path:
    """Write ``directory/sweep.json`` atomically; returns its path."""
    path = Path(directory) / MANIFEST_NAME
    atomic_write_text(path, manifest.model_dump_json(indent=2) + "\n")
    return path
