"""``--grid KEY=V1,V2,…`` items: parsed and checked like ``--set``, then expanded to points."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from infodyn.config import ConfigError, parse_overrides

__all__ = ["RESERVED_KEYS", "grid_points", "nest", "parse_grid"]

#: Config keys a sweep sets itself, from ``--seeds``/``--seed-start`` and ``--threads``.
RESERVED_KEYS = {
    "seed": "seeds come from --seeds N (and --seed-start)",
    "threads": "every run's thread count comes from --threads",
}


def _parse_value(config_type: type[BaseModel], option: str, key: str, raw: str) -> Any:
    """``raw`` parsed exactly as ``--set key=raw`` would be; unknown keys name ``option``."""
    try:
        node: Any = parse_overrides(config_type, [f"{key}={raw}"])
    except ConfigError as err:
        # parse_overrides speaks of --set; say which option the user actually typed.
        raise ConfigError(str(err).replace("--set", option, 1)) from None
    for part in key.split("."):
        node = node[part]
    return node


def parse_grid(config_type: type[BaseModel], items: Sequence[str]) -> dict[str, list[Any]]:
    """Turn ``["optim.weight_decay=0.1,1.0"]`` into ``{"optim.weight_decay": [0.1, 1.0]}``.

    Each value is parsed as ``--set`` parses it (JSON first, else a string), so numbers keep
    their type. Keys keep the order given; values keep theirs. Values cannot contain commas.

    Args:
        config_type: The experiment's config model; every key must be one of its fields.
        items: ``KEY=V1,V2,…`` strings, one per swept key.

    Raises:
        ConfigError: A malformed item, an unknown or reserved key, a key given twice, an empty
            or repeated value; the message names the item and says how to fix it.

    Example:
        >>> from infodyn.experiments.grokking import GrokkingConfig
        >>> parse_grid(GrokkingConfig, ["optim.weight_decay=0.1,1", "monitor.mode=pooled"])
        {'optim.weight_decay': [0.1, 1], 'monitor.mode': ['pooled']}
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"--grid expects KEY=V1,V2,…, got {item!r}; e.g. --grid optim.weight_decay=0.1,1.0"
            )
        if key in RESERVED_KEYS:
            raise ConfigError(f"--grid {key}: not allowed, {RESERVED_KEYS[key]}")
        if key in grid:
            raise ConfigError(
                f"--grid {key} is given twice; put all its values in one --grid {key}=V1,V2,…"
            )
        texts = [t.strip() for t in raw.split(",")]
        for i, text in enumerate(texts):
            if not text:
                raise ConfigError(
                    f"--grid {item!r}: value {i + 1} is empty; give comma-separated values "
                    f"with nothing empty, e.g. --grid {key}=1,2"
                )
        values = [_parse_value(config_type, "--grid", key, text) for text in texts]
        seen: list[Any] = []
        for text, value in zip(texts, values, strict=True):
            if value in seen:
                raise ConfigError(
                    f"--grid {item!r}: value {text!r} is repeated; list each value once"
                )
            seen.append(value)
        grid[key] = values
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last key varying fastest.

    An empty grid has one point, ``{}`` (a seeds-only sweep).

    Example:
        >>> grid_points({"a": [1, 2], "b": ["x", "y"]})
        [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
        >>> grid_points({})
        [{}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def nest(point: Mapping[str, Any]) -> dict[str, Any]:
    """``{"optim.lr": 0.1}`` → ``{"optim": {"lr": 0.1}}``, the shape a config validates from.

    Example:
        >>> nest({"optim.lr": 0.1, "optim.beta1": 0.5, "steps": 3})
        {'optim': {'lr': 0.1, 'beta1': 0.5}, 'steps': 3}
    """
    nested: dict[str, Any] = {}
    for key, value in point.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested
