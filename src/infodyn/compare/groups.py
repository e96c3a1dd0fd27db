"""Group the runs of a comparison by config values.

A group is every run sharing the values of the grouping keys — typically the seeds of one
point of a sweep grid. Keys are dotted paths into ``config.json`` (``optim.weight_decay``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infodyn.compare.load import ComparedRun, CompareError
from infodyn.report import flatten_config

__all__ = ["ABSENT_TEXT", "Group", "check_group_keys", "group_runs", "infer_group_keys"]

#: How a grouping key that a run's config lacks is shown.
ABSENT_TEXT = "—"
#: Never a key that tells groups apart: runs differing only in it are repeats of one setting.
_SEED_KEY = "seed"
_ABSENT = "\x00absent"  # not valid JSON, so it never equals a canonical config value


@dataclass(frozen=True, eq=False)
class Group:
    """Runs that share the values of the grouping keys.

    Attributes:
        label: ``short_key=value, …`` for legends and tables (``"all runs"`` with no keys).
        point: ``{dotted.key: value}``; a key the runs' configs lack is left out.
        runs: The runs, in input order.
    """

    label: str
    point: dict[str, Any]
    runs: tuple[ComparedRun, ...]


def _flat(run: ComparedRun) -> dict[str, Any]:
    return dict(flatten_config(run.config))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def infer_group_keys(
    runs: Sequence[ComparedRun], swept_keys: Sequence[str] = ()
) -> tuple[str, ...]:
    """The keys that tell the runs' settings apart: the swept keys, then any other that differs.

    ``seed`` never counts: runs that differ only in it are repeats of one setting. For the runs
    of one sweep the differing keys are its grid keys, so both rules agree; for plain run
    directories only the differing keys remain; for a mix the union keeps every difference.
    A differing key that follows from the others (e.g. ``steps`` derived from the dataset)
    splits no group further and is left out, so the labels name only what was chosen.

    Args:
        runs: The runs.
        swept_keys: The union of the sweeps' grid keys, in their order.

    Returns:
        The keys, swept ones first; empty when all settings agree (one group).

    Example:
        >>> from infodyn.compare.load import ComparedRun
        >>> def run(config):
        ...     return ComparedRun("r", None, config, None, {})
        >>> infer_group_keys([run({"seed": 0, "optim": {"lr": 0.1}, "steps": 9}),
        ...                   run({"seed": 1, "optim": {"lr": 0.01}, "steps": 9})])
        ('optim.lr',)
        >>> infer_group_keys([run({"data": "iris", "steps": 90}),
        ...                   run({"data": "wine", "steps": 99})], swept_keys=["data"])
        ('data',)
    """
    flats = [_flat(r) for r in runs]
    every_key = sorted({k for flat in flats for k in flat})
    differing = [
        k
        for k in every_key
        if k != _SEED_KEY and len({_canonical(f.get(k, _ABSENT)) for f in flats}) > 1
    ]
    keys = list(dict.fromkeys(swept_keys))
    for key in differing:
        if key not in keys and _partition(flats, [*keys, key]) != _partition(flats, keys):
            keys.append(key)
    return tuple(keys)


def _partition(flats: Sequence[dict[str, Any]], keys: Sequence[str]) -> int:
    """How many groups ``keys`` make of the runs."""
    return len({tuple(_canonical(f.get(k, _ABSENT)) for k in keys) for f in flats})


def check_group_keys(runs: Sequence[ComparedRun], keys: Sequence[str]) -> None:
    """Refuse a grouping key that no run's config has, suggesting the closest keys.

    Raises:
        CompareError: A key is in no config; the message lists close valid keys (difflib), or
            the keys under it when it names a section (``optim`` → ``optim.lr, …``).
    """
    every_key = sorted({k for r in runs for k in _flat(r)})
    for key in keys:
        if key in every_key:
            continue
        close = [k for k in every_key if k.startswith(f"{key}.")] or difflib.get_close_matches(
            key, every_key, n=5, cutoff=0.6
        )
        hint = (
            f"close keys: {', '.join(close)}"
            if close
            else f"valid keys: {', '.join(every_key[:15])}" + (", …" if len(every_key) > 15 else "")
        )
        raise CompareError(
            f"--by {key!r}: no run's config.json has this key; {hint} (dotted keys into "
            f"config.json, e.g. optim.weight_decay)"
        )


def _short_names(keys: Sequence[str]) -> dict[str, str]:
    """The last dotted component of each key where that is unambiguous, else the whole key."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then other values by their JSON text, then absent ones."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    if value is _ABSENT:
        return (2, 0.0, "")
    return (1, 0.0, _canonical(value))


def group_runs(runs: Sequence[ComparedRun], keys: Sequence[str]) -> tuple[Group, ...]:
    """Split ``runs`` into groups by the values of ``keys``, ordered by those values.

    Args:
        runs: The runs.
        keys: Dotted config keys (see :func:`check_group_keys`); empty for one group.

    Returns:
        The groups, sorted by their values (numbers numerically), each with its runs in input
        order.

    Example:
        >>> from infodyn.compare.load import ComparedRun
        >>> runs = [ComparedRun(n, None, {"optim": {"wd": wd}}, None, {})
        ...         for n, wd in (("a", 1.0), ("b", 0.1), ("c", 1.0))]
        >>> [(g.label, [r.name for r in g.runs]) for g in group_runs(runs, ["optim.wd"])]
        [('wd=0.1', ['b']), ('wd=1.0', ['a', 'c'])]
    """
    if not keys:
        return (Group("all runs", {}, tuple(runs)),)
    short = _short_names(keys)
    members: dict[tuple[str, ...], list[ComparedRun]] = {}
    values: dict[tuple[str, ...], list[Any]] = {}
    for run in runs:
        flat = _flat(run)
        point = [flat.get(k, _ABSENT) for k in keys]
        ident = tuple(_canonical(v) if v is not _ABSENT else _ABSENT for v in point)
        members.setdefault(ident, []).append(run)
        values.setdefault(ident, point)
    groups = []
    for ident in sorted(members, key=lambda i: [_sort_key(v) for v in values[i]]):
        point = values[ident]
        label = ", ".join(
            f"{short[k]}={ABSENT_TEXT if v is _ABSENT else _text(v)}"
            for k, v in zip(keys, point, strict=True)
        )
        present = {k: v for k, v in zip(keys, point, strict=True) if v is not _ABSENT}
        groups.append(Group(label, present, tuple(members[ident])))
    return tuple(groups)
