"""From a sweep command to its manifest: check the request, name and configure every run.

Everything here happens before any run starts, so bad input is refused with nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from infodyn.config import ConfigError, build_config, parse_overrides
from infodyn.experiments import get_experiment
from infodyn.sweep.grid import RESERVED_KEYS, grid_points, nest, parse_grid
from infodyn.sweep.manifest import (
    MANIFEST_NAME,
    SweepManifest,
    SweepRun,
    load_manifest,
    save_manifest,
)
from infodyn.sweep.naming import run_names

__all__ = ["check_counts", "check_parallelism", "open_sweep", "plan_sweep"]


def _check_overrides(
    config_type: type[BaseModel], overrides: Sequence[str], grid_keys: Sequence[str]
) -> None:
    parse_overrides(config_type, overrides)  # unknown keys and malformed items
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key in RESERVED_KEYS:
            raise ConfigError(f"--set {key}: not allowed in a sweep, {RESERVED_KEYS[key]}")
        if key in grid_keys:
            raise ConfigError(
                f"{key} is given both by --grid and by --set; drop one (the --set value would "
                f"be overridden by every grid point)"
            )


def plan_sweep(
    experiment: str,
    grid_items: Sequence[str] = (),
    *,
    seeds: int = 1,
    seed_start: int = 0,
    overrides: Sequence[str] = (),
    threads: int = 1,
) -> SweepManifest:
    """The manifest of a fresh sweep: every (grid point, seed) named and fully configured.

    Runs are grid-major: all seeds of the first point, then all seeds of the next. Each run's
    config is the experiment's defaults, then ``overrides``, then the grid point, with
    ``seed`` and ``threads`` set by the sweep.

    Args:
        experiment: A registered experiment name.
        grid_items: ``KEY=V1,V2,…`` strings (see :func:`~infodyn.sweep.grid.parse_grid`).
        seeds: How many seeds per grid point (``>= 1``).
        seed_start: The first seed; the seeds are ``seed_start … seed_start + seeds - 1``.
        overrides: ``KEY=VALUE`` strings shared by every run, as ``infodyn run --set``.
        threads: Torch threads of every run.

    Raises:
        ConfigError: Any bad argument; the message names it and the fix.
        ValueError: ``experiment`` is unknown.

    Example:
        >>> m = plan_sweep("grokking", ["optim.weight_decay=0.1,1.0"], seeds=2,
        ...                overrides=["steps=30"])
        >>> [(r.name, r.config["optim"]["weight_decay"], r.config["steps"]) for r in m.runs]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('weight_decay=0.1_seed=0', 0.1, 30), ('weight_decay=0.1_seed=1', 0.1, 30),
         ('weight_decay=1.0_seed=0', 1.0, 30), ('weight_decay=1.0_seed=1', 1.0, 30)]
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds must be an integer >= 1, got {seeds!r}; e.g. --seeds 3")
    if seed_start < 0:
        raise ConfigError(f"--seed-start must be >= 0, got {seed_start}")
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    config_type = get_experiment(experiment).config_type
    grid = parse_grid(config_type, grid_items)
    _check_overrides(config_type, overrides, list(grid))
    seed_list = list(range(seed_start, seed_start + seeds))
    pairs = [(point, seed) for point in grid_points(grid) for seed in seed_list]
    runs = []
    for name, (point, seed) in zip(run_names(pairs), pairs, strict=True):
        try:
            config = build_config(config_type, overrides, base=nest(point))
        except ConfigError as err:
            raise ConfigError(f"grid point {point}: {err}") from None
        config = config.model_copy(update={"seed": seed, "threads": threads})
        runs.append(
            SweepRun(name=name, point=point, seed=seed, config=config.model_dump(mode="json"))
        )
    return SweepManifest(
        experiment=experiment, grid=grid, seeds=seed_list, overrides=list(overrides), runs=runs
    )


def open_sweep(directory: Path, planned: SweepManifest) -> SweepManifest:
    """The manifest to run: the folder's own when it holds this sweep, else ``planned``, saved.

    Raises:
        ConfigError: ``directory`` is a file, a non-empty folder that is no sweep, or a sweep
            asked for by a different command (the message lists each difference).
    """
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--out {directory} is a file; pass a folder for the sweep")
    if (directory / MANIFEST_NAME).exists():
        existing = load_manifest(directory)
        differences = existing.differences(planned)
        if differences:
            raise ConfigError(
                f"--out {directory} holds a sweep asked for by another command "
                f"({'; '.join(differences)}, folder vs now); re-run that command to resume it, "
                f"or pass a new --out folder"
            )
        return existing
    if directory.is_dir() and any(directory.iterdir()):
        raise ConfigError(
            f"--out {directory} is a non-empty folder without {MANIFEST_NAME}; pass a new or "
            f"empty folder (or the --out of an earlier sweep to resume it)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    save_manifest(directory, planned)
    return planned


def check_counts(workers: int | None, threads: int) -> None:
    """Refuse ``--workers`` (when given) or ``--threads`` below 1.

    Raises:
        ConfigError: naming the option and the value seen.
    """
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")


def check_parallelism(
    workers: int | None, threads: int, cores: int, *, allow_oversubscribe: bool = False
) -> int:
    """The number of worker processes: ``workers``, or as many as fit ``cores`` at ``threads``.

    Raises:
        ConfigError: ``workers < 1``, ``threads < 1``, or ``workers × threads > cores`` without
            ``allow_oversubscribe``.

    Example:
        >>> check_parallelism(None, 1, 8), check_parallelism(None, 3, 8), check_parallelism(2, 2, 4)
        (8, 2, 2)
    """
    check_counts(workers, threads)
    resolved = max(1, cores // threads) if workers is None else workers
    if resolved * threads > cores and not allow_oversubscribe:
        raise ConfigError(
            f"--workers {resolved} × --threads {threads} = {resolved * threads} threads on "
            f"{cores} cores would oversubscribe them; lower --workers or --threads, or pass "
            f"--allow-oversubscribe"
        )
    return resolved
