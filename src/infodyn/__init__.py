"""infodyn: measure, store and plot the information dynamics of neural-network training.

The public surface, by layer (compute → monitor → store → draw):

- :mod:`infodyn.functional` — pure, differentiable estimators (``matrix_entropy``, ``mir``, …).
- :mod:`infodyn.metrics` — ``torchmetrics.Metric`` classes that stream and reduce across ranks.
- :mod:`infodyn.losses` — information terms as training losses.
- :func:`measure` — every family of a classifier from one pass over a loader, in one call.
- :func:`evaluate` — one forward pass per batch feeds any set of metrics; their values back.
- :class:`ActivationCapture`, :class:`Monitor`, :class:`Probe`, :func:`every`,
  :func:`log_spaced` — hooks and schedules that record metrics while a model trains, from a
  separate evaluation pass or live from the training passes.
- :class:`RunDir`, :class:`RunStore` — a run directory and its SQLite store.
- :mod:`infodyn.viz`, :mod:`infodyn.report` — figures and HTML drawn from a store.
- :func:`detect_transition` — one series' transition window on the log-step axis;
  :mod:`infodyn.leadlag` and :mod:`infodyn.explain` rank a run's series by their lead on a
  reference (``infodyn explain``).
"""

from importlib.metadata import PackageNotFoundError, version

from infodyn.capture import ActivationCapture, find_classifier_head
from infodyn.evaluation import evaluate
from infodyn.measurement import Measurement
from infodyn.measuring import MeasureCaps, measure
from infodyn.monitor import Monitor, Probe
from infodyn.rundir import RunDir
from infodyn.schedules import every, log_spaced
from infodyn.store import RunStore
from infodyn.transitions import Transition, detect_transition

try:
    __version__ = version("infodyn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "ActivationCapture",
    "MeasureCaps",
    "Measurement",
    "Monitor",
    "Probe",
    "RunDir",
    "RunStore",
    "Transition",
    "__version__",
    "detect_transition",
    "evaluate",
    "every",
    "find_classifier_head",
    "log_spaced",
    "measure",
]
