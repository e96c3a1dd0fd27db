"""Run directory names of a sweep: readable, deterministic from (grid point, seed), unique.

A re-run of the same command must find the same directories, so a name depends only on the
point, the seed and (on a collision) the run's position in the grid-major order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["run_name", "run_names"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
#: Longer names are cut: a directory name must stay well under the usual 255-byte limit.
MAX_NAME = 120


def _text(value: Any) -> str:
    # Strings as typed; everything else as JSON, so 1e-4 reads 0.0001 and True reads true.
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def run_name(point: Mapping[str, Any], seed: int) -> str:
    """``<last key segment>=<value>_…_seed=<seed>``, sanitised to ``[A-Za-z0-9._=-]``.

    Characters outside that set become ``-``; names longer than 120 characters are cut (see
    :func:`run_names` for how collisions are resolved).

    Example:
        >>> run_name({"optim.weight_decay": 0.1, "data.operation": "a/b"}, 3)
        'weight_decay=0.1_operation=a-b_seed=3'
    """
    parts = [f"{key.rsplit('.', 1)[-1]}={_text(value)}" for key, value in point.items()]
    parts.append(f"seed={seed}")
    return _UNSAFE.sub("-", "_".join(parts))[:MAX_NAME]


def run_names(runs: Sequence[tuple[Mapping[str, Any], int]]) -> list[str]:
    """The names of every ``(point, seed)`` of a sweep, in order, all distinct.

    When two runs would share a name (keys with the same last segment, values equal after
    sanitising, or cut at the length limit) every name gets its zero-padded index in ``runs``
    as a prefix, so the names stay a function of the command alone.

    Example:
        >>> run_names([({"data.op": "a/b"}, 0), ({"data.op": "a:b"}, 0)])
        ['0_op=a-b_seed=0', '1_op=a-b_seed=0']
        >>> run_names([({"lr": 0.1}, 0), ({"lr": 0.1}, 1)])
        ['lr=0.1_seed=0', 'lr=0.1_seed=1']
    """
    names = [run_name(point, seed) for point, seed in runs]
    if len(set(names)) == len(names):
        return names
    width = len(str(max(len(names) - 1, 0)))
    return [f"{i:0{width}d}_{name}" for i, name in enumerate(names)]
