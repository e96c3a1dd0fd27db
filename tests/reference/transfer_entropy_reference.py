"""Brute-force single-pair transfer entropy, written from Schreiber's (2000) formula.

No shared code with ``infodyn``: one Python loop over the observations t = max(u, 1) … T−1
counts the triples (s, p, f) = (x_{t−u}, y_{t−1}, y_t) in a dictionary, and the plug-in sum

    TE = Σ_{s,p,f} (c(s,p,f)/N) · log2[ c(s,p,f)·c(p) / (c(s,p)·c(p,f)) ]

is evaluated term by term in bits. Slow on purpose; for short series and single pairs only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def transition_triples(
    x: Sequence[int] | np.ndarray,
    y: Sequence[int] | np.ndarray,
    delay: int = 1,
    past_lag: int = 1,
) -> Counter[tuple[int, int, int]]:
    """c(s, p, f) over t = max(delay, 1) … T−1 with s = x[t−delay], p = y[t−1], f = y[t].

    ``past_lag`` ≠ 1 takes p = y[t − past_lag] instead: a deliberately misaligned target
    history, used only to show that the tests would notice such a mistake.
    """
    x = [int(v) for v in np.asarray(x).reshape(-1)]
    y = [int(v) for v in np.asarray(y).reshape(-1)]
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    counts: Counter[tuple[int, int, int]] = Counter()
    for t in range(max(delay, past_lag, 1), len(y)):
        counts[(x[t - delay], y[t - past_lag], y[t])] += 1
    return counts


def transfer_entropy_pair(
    x: Sequence[int] | np.ndarray,
    y: Sequence[int] | np.ndarray,
    delay: int = 1,
    base: float = 2.0,
    past_lag: int = 1,
) -> float:
    """TE(x → y) with target history 1, source history 1 and source→target lag ``delay``.

    ``base`` is the logarithm base (2 = bits); the tests use other bases only to show that a
    wrong base would be caught; ``past_lag`` as in :func:`transition_triples`.
    """
    triples = transition_triples(x, y, delay, past_lag)
    n = sum(triples.values())
    if n == 0:
        raise ValueError("no observations: the series is too short for this delay")
    sp: Counter[tuple[int, int]] = Counter()
    pf: Counter[tuple[int, int]] = Counter()
    p_only: Counter[int] = Counter()
    for (s, p, f), c in triples.items():
        sp[(s, p)] += c
        pf[(p, f)] += c
        p_only[p] += c
    te = 0.0
    for (s, p, f), c in triples.items():
        te += (c / n) * math.log((c * p_only[p]) / (sp[(s, p)] * pf[(p, f)]), base)
    return te


def transfer_entropy_matrix(
    source: np.ndarray, target: np.ndarray, delay: int = 1, base: float = 2.0
) -> np.ndarray:
    """(m, n) matrix of :func:`transfer_entropy_pair` over columns of (T, m) and (T, n)."""
    source, target = np.asarray(source), np.asarray(target)
    out = np.empty((source.shape[1], target.shape[1]))
    for i in range(source.shape[1]):
        for j in range(target.shape[1]):
            out[i, j] = transfer_entropy_pair(source[:, i], target[:, j], delay, base)
    return out
