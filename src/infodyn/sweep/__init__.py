"""Sweeps: one experiment over a grid of config values × seeds, one run directory each."""

from infodyn.sweep.manifest import (
    MANIFEST_NAME,
    SweepManifest,
    SweepRun,
    load_manifest,
    save_manifest,
)

__all__ = ["MANIFEST_NAME", "SweepManifest", "SweepRun", "load_manifest", "save_manifest"]
