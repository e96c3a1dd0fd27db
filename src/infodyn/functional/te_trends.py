"""How a transfer-entropy series moves over training: rank correlation with another series.

Moldovan, Caţaron & Andonie (2024, arXiv 2404.01364) report that TE "decreases during training,
following a pattern similar to loss and inverse to accuracy", without a statistic. Spearman's
rank correlation makes that claim a number: ρ(TE, epoch) < 0 when TE falls, ρ(TE, loss) > 0
when it follows the loss, ρ(TE, accuracy) < 0 when it moves against accuracy. Ranks, not
values, because the claim is about a monotone co-movement, not a linear one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["rank", "spearman"]


def rank(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1 … n with ties given their average rank (``scipy.stats.rankdata`` "average").

    Example:
        >>> rank([10.0, 30.0, 20.0, 20.0]).tolist()
        [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size, dtype=np.float64)
    sorted_x = x[order]
    start = 0
    while start < x.size:
        stop = start + 1
        while stop < x.size and sorted_x[stop] == sorted_x[start]:
            stop += 1
        ranks[order[start:stop]] = (start + stop + 1) / 2.0  # mean of ranks start+1 … stop
        start = stop
    return ranks


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rank correlation ρ of two equally long series, in [−1, 1].

        ρ = Pearson(rank(a), rank(b)),  ties at their average rank.

    Returns None when ρ is undefined: fewer than 3 points, or a series that is constant (all
    ranks equal), so a caller never reads NaN as a result.

    Args:
        a: (n,) finite values, e.g. the mean TE of each epoch.
        b: (n,) finite values over the same epochs, e.g. the training loss.

    Example:
        >>> spearman([0.9, 0.5, 0.4, 0.1], [2.0, 1.1, 0.7, 0.2])  # falls together
        1.0
        >>> spearman([0.9, 0.5, 0.4, 0.1], [0.3, 0.6, 0.8, 0.95])  # against accuracy
        -1.0
        >>> spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
        True
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"a and b must be 1-D series of equal length, got shapes {x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("a and b must be finite; drop the epochs with NaN or inf first")
    if x.size < 3:
        return None
    rx, ry = rank(x) - (x.size + 1) / 2.0, rank(y) - (y.size + 1) / 2.0
    denominator = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denominator == 0.0:
        return None
    return float(np.clip(float(rx @ ry) / denominator, -1.0, 1.0))
