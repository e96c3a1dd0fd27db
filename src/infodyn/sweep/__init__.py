"""Sweeps: one experiment over a grid of config values × seeds, one run directory each.

The command is ``infodyn sweep`` (:mod:`infodyn.sweep.cli`); planning lives in
:mod:`infodyn.sweep.plan`, execution in :mod:`infodyn.sweep.driver` with the ``local``
(:mod:`infodyn.sweep.local`) and ``ray`` (:mod:`infodyn.sweep.ray_backend`) backends.
This package's namespace keeps to the light, dependency-free pieces.
"""

from infodyn.sweep.grid import grid_points, parse_grid
from infodyn.sweep.manifest import (
    MANIFEST_NAME,
    SweepManifest,
    SweepRun,
    load_manifest,
    save_manifest,
)
from infodyn.sweep.naming import run_name, run_names

__all__ = [
    "MANIFEST_NAME",
    "SweepManifest",
    "SweepRun",
    "grid_points",
    "load_manifest",
    "parse_grid",
    "run_name",
    "run_names",
    "save_manifest",
]
