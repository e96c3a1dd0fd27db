"""Typed experiment configs and ``--set key=value`` overrides.

Configs are pydantic models that reject unknown keys, so a typo in an override fails loudly
instead of being ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

Config = TypeVar("Config", bound="StrictConfig")


class StrictConfig(BaseModel):
    """Base for every config section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """A config or override that cannot be applied; the message says which key and why."""


def _parse_value(text: str) -> Any:
    # JSON first so numbers, booleans, null and lists keep their type; anything else is a string.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(_known_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def parse_overrides(config_type: type[BaseModel], overrides: Iterable[str]) -> dict[str, Any]:
    """Turn ``["optim.lr=3e-4", "steps=100"]`` into a nested dict, checking every key.

    Example:
        >>> from infodyn.experiments.grokking import GrokkingConfig
        >>> parse_overrides(GrokkingConfig, ["optim.lr=3e-4", "steps=5"])
        {'optim': {'lr': 0.0003}, 'steps': 5}
    """
    known = _known_keys(config_type)
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}; e.g. --set optim.lr=3e-4")
        if key not in known:
            raise ConfigError(
                f"--set {key}: unknown config key for {config_type.__name__}; "
                f"valid keys: {', '.join(known)}"
            )
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _parse_value(raw.strip())
    return nested


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_config(
    config_type: type[Config], overrides: Iterable[str] = (), base: Mapping[str, Any] | None = None
) -> Config:
    """Defaults (or ``base``) updated by ``overrides``, validated into ``config_type``."""
    data = _merge(base or {}, parse_overrides(config_type, overrides))
    try:
        return config_type.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        )
        raise ConfigError(f"invalid {config_type.__name__}: {problems}") from None
