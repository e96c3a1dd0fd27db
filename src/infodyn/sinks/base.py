"""The sink interface, and :class:`Sinks`: every call guarded, a failure a warning."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infodyn.store import Array, Scalar

__all__ = ["RecordSink", "Sinks", "record_tag"]


def record_tag(split: str, metric: str, layer: str = "") -> str:
    """The name a record gets outside the store: ``split/metric`` or ``split/metric/layer``.

    Example:
        >>> record_tag("test", "mir", "head:input"), record_tag("train", "loss")
        ('test/mir/head:input', 'train/loss')
    """
    return f"{split}/{metric}/{layer}" if layer else f"{split}/{metric}"


class RecordSink:
    """Something that receives a copy of every record a run writes.

    Override what the tool supports; the defaults do nothing. Calls come in this order:
    :meth:`start` once, :meth:`write` after every store transaction, :meth:`finish` once the
    figures and report exist, :meth:`close` last (also after an error).
    """

    #: Shown in warnings.
    name = "sink"

    def start(self, run_name: str, config: Mapping[str, Any], state: dict[str, Any]) -> None:
        """A run begins (or resumes). ``state`` persists in the run store between sessions:
        a sink keeps there what it needs to continue the same run after a resume."""

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        """Records just committed to the store."""

    def finish(self, figures: Sequence[Path], artifacts: Sequence[Path]) -> None:
        """The run's figures (PNG) and other files (report, store) exist."""

    def close(self) -> None:
        """Release files and connections."""


class Sinks:
    """Several sinks behind one front: a sink that raises is warned about, never fatal.

    The first failure of each sink is a ``RuntimeWarning`` naming the sink, the call and the
    error; later ones are counted and reported at :meth:`close`. A sink keeps receiving calls
    after a failure (a server may come back).

    Example:
        >>> class Broken(RecordSink):
        ...     name = "broken"
        ...     def write(self, scalars, arrays): raise OSError("disk full")
        >>> sinks = Sinks([Broken()])
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     sinks.write([Scalar(1, "train", "loss", 0.5)], [])
        >>> str(caught[0].message)
        'sink broken failed in write: OSError: disk full; the run store has every record'
    """

    def __init__(self, sinks: Sequence[RecordSink] = ()) -> None:
        self.sinks = list(sinks)
        self.failures: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def _call(self, call: str, *args: Any) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, call)(*args)
            except Exception as error:
                count = self.failures.get(sink.name, 0) + 1
                self.failures[sink.name] = count
                if count == 1:
                    warnings.warn(
                        f"sink {sink.name} failed in {call}: {type(error).__name__}: {error}; "
                        f"the run store has every record",
                        RuntimeWarning,
                        stacklevel=3,
                    )

    def start(self, run_name: str, config: Mapping[str, Any], state: dict[str, Any]) -> None:
        self._call("start", run_name, config, state)

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        self._call("write", scalars, arrays)

    def finish(self, figures: Sequence[Path], artifacts: Sequence[Path]) -> None:
        self._call("finish", figures, artifacts)

    def close(self) -> None:
        self._call("close")
        repeated = {name: n for name, n in self.failures.items() if n > 1}
        if repeated:
            warnings.warn(
                f"sinks failed repeatedly: {repeated} (calls); the run store has every record",
                RuntimeWarning,
                stacklevel=2,
            )
