"""Mirror a run's records into other tools: TensorBoard and MLflow.

The run store stays the source of truth: the monitor writes every record there first, then
hands the same records to each sink. A sink that fails (a missing package, a full disk, an
unreachable tracking server) costs a warning, never a record. See ``docs/loggers.md``.

- :class:`RecordSink` — what a sink implements (``start``, ``write``, ``finish``, ``close``).
- :class:`Sinks` — several sinks behind one failure-isolating front (used by the monitor).
- :class:`~infodyn.sinks.tensorboard.TensorBoardSink` (``infodyn[tensorboard]``),
  :class:`~infodyn.sinks.mlflow.MLflowSink` (``infodyn[mlflow]``).
"""

from infodyn.sinks.base import RecordSink, Sinks, record_tag
from infodyn.sinks.mlflow import MLflowSink
from infodyn.sinks.tensorboard import TensorBoardSink

__all__ = ["MLflowSink", "RecordSink", "Sinks", "TensorBoardSink", "record_tag"]
