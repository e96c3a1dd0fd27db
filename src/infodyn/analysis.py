"""Summaries computed from a finished (or running) store, e.g. when grokking happened."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infodyn.store import RunStore

__all__ = [
    "FIT_THRESHOLD",
    "GENERALIZE_THRESHOLD",
    "GrokkingSteps",
    "first_step_reaching",
    "grokking_steps",
]

#: Train accuracy that counts as having fit the training set (a fraction in [0, 1]).
FIT_THRESHOLD = 0.99
#: Test accuracy that counts as having generalised.
GENERALIZE_THRESHOLD = 0.9


def first_step_reaching(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """The first step (in step order) whose value is ``>= threshold``, or None if none is.

    NaN never reaches a threshold.

    Args:
        steps: ``(n,)`` integer steps, in any order.
        values: ``(n,)`` values at those steps.
        threshold: The level to reach.

    Example:
        >>> import numpy as np
        >>> first_step_reaching(np.array([0, 10, 20, 30]), np.array([0.1, 0.5, 0.95, 0.8]), 0.9)
        20
        >>> first_step_reaching(np.array([0, 10]), np.array([0.1, 0.5]), 0.9) is None
        True
    """
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or values.shape != steps.shape:
        raise ValueError(
            f"steps and values must be 1-D of equal length, got shapes {steps.shape} and "
            f"{values.shape}"
        )
    order = np.argsort(steps, kind="stable")
    # NaN >= threshold is False, so a diverged value never counts as reaching it.
    hits = np.flatnonzero(values[order] >= threshold)
    return int(steps[order][hits[0]]) if hits.size else None


@dataclass(frozen=True)
class GrokkingSteps:
    """When a run fit its training set and when it generalised.

    Attributes:
        fit_step: First step with train accuracy at or above the fit threshold, or None.
        generalize_step: First step with test accuracy at or above the generalisation
            threshold, or None.
    """

    fit_step: int | None
    generalize_step: int | None

    @property
    def delay_ratio(self) -> float | None:
        """``generalize_step / fit_step``: how many times longer generalising took than fitting.

        None when either step is missing or ``fit_step`` is 0 (the ratio is undefined).

        Example:
            >>> GrokkingSteps(fit_step=1000, generalize_step=25000).delay_ratio
            25.0
        """
        if self.fit_step is None or self.generalize_step is None or self.fit_step == 0:
            return None
        return self.generalize_step / self.fit_step


def _first_reaching(store: RunStore, split: str, threshold: float) -> int | None:
    if ("accuracy", split) not in {(m, s) for m, s, _ in store.keys()}:
        return None
    steps, values = store.series("accuracy", split)
    return first_step_reaching(steps, values, threshold)


def grokking_steps(
    store: RunStore,
    *,
    fit_threshold: float = FIT_THRESHOLD,
    generalize_threshold: float = GENERALIZE_THRESHOLD,
) -> GrokkingSteps:
    """Find the fit and generalisation steps from the ``accuracy`` series of ``train``/``test``.

    Following Power et al. (2022, "Grokking"), fitting is train accuracy reaching
    ``fit_threshold`` and generalising is test accuracy reaching ``generalize_threshold``;
    accuracies are fractions in [0, 1]. A split with no accuracy recorded gives None.

    Example:
        >>> import tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(s, "train", "accuracy", a) for s, a in
        ...                      [(0, 0.1), (100, 1.0), (1000, 1.0)]]
        ...                     + [Scalar(s, "test", "accuracy", a) for s, a in
        ...                        [(0, 0.0), (100, 0.05), (1000, 0.97)]])
        ...         g = grokking_steps(store)
        >>> g, g.delay_ratio
        (GrokkingSteps(fit_step=100, generalize_step=1000), 10.0)
    """
    return GrokkingSteps(
        fit_step=_first_reaching(store, "train", fit_threshold),
        generalize_step=_first_reaching(store, "test", generalize_threshold),
    )
