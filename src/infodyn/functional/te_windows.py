"""Transfer entropy over windows of one series, each against its own surrogate null.

Moldovan, Caţaron & Andonie (2024, arXiv 2404.01364) report compression "particularly at the
beginning of each epoch". Their code (github.com/avmoldovan/CNN-TE, ``NNutils.calc_fc``)
estimates TE after every training batch over all samples seen since the epoch began: a
*growing* window that restarts each epoch. The plug-in estimate is biased upward by about
1/(N ln 2) bits for N observations (JIDT's χ² approximation), so a growing-window TE falls
within every epoch even if nothing about the network changes. Two windowings separate the
two effects:

- ``growing=True``: the first 1/P, 2/P, …, P/P of the series — what that code plots. Compare
  each value with its null mean, which carries the same bias.
- ``growing=False``: P consecutive parts of (nearly) equal length — equal N, equal bias, so a
  fall from the first part to the last is a change of the network within the epoch.

Each window is tested exactly as :func:`~infodyn.functional.transfer_entropy_null` tests a
whole series (the same call on the window's rows, same seed).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from infodyn._validation import check_int
from infodyn.functional.te import (
    SurrogateMethod,
    TransferEntropySignificance,
    _check_pair,
    transfer_entropy_null,
)

__all__ = ["TransferEntropyWindows", "transfer_entropy_windows", "window_bounds"]


class TransferEntropyWindows(NamedTuple):
    """Pair-mean TE of each window with its surrogate null; all (P,).

    Attributes:
        start: First row of each window (int64).
        stop: One past the last row of each window (int64).
        te_mean: Observed TE averaged over all (source, target) neuron pairs, bits.
        null_mean: Mean over surrogates of the pair-mean TE, bits (the estimator's bias
            level at the window's length).
        null_std: Population std over surrogates of the pair-mean TE, bits.
        p_value: Surrogate p-value of the pair mean, ``(1 + #{k: null_k ≥ te_mean}) / (1 + K)``.
    """

    start: Tensor
    stop: Tensor
    te_mean: Tensor
    null_mean: Tensor
    null_std: Tensor
    p_value: Tensor


def window_bounds(length: int, parts: int, *, growing: bool = False) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of ``parts`` windows over a series of ``length`` rows.

    Boundaries are ``round(j · length / parts)``; consecutive parts therefore differ in length
    by at most one row. Growing windows all start at 0.

    Example:
        >>> window_bounds(10, 3)
        [(0, 3), (3, 7), (7, 10)]
        >>> window_bounds(10, 3, growing=True)
        [(0, 3), (0, 7), (0, 10)]
    """
    length = check_int("length", length, minimum=1)
    parts = check_int("parts", parts, minimum=1, maximum=length)
    edges = [round(j * length / parts) for j in range(parts + 1)]
    return [(0 if growing else edges[j], edges[j + 1]) for j in range(parts)]


def transfer_entropy_windows(
    source: Tensor,
    target: Tensor,
    parts: int,
    *,
    growing: bool = False,
    n_surrogates: int = 99,
    seed: int = 0,
    method: SurrogateMethod = "shuffle",
    delay: int = 1,
    whole: TransferEntropySignificance | None = None,
) -> TransferEntropyWindows:
    """TE of each window of a series against the surrogate null of that window.

    For window w with rows [a, b): ``te_mean[w]`` = mean over pairs of
    ``transfer_entropy(source[a:b], target[a:b])`` and the null values come from
    ``transfer_entropy_null(source[a:b], target[a:b], n_surrogates, seed)``, whose surrogate
    pair means give ``null_mean``, ``null_std`` and ``p_value``. All in bits; TE ∈ [0, 1].

    Args:
        source: (T, m) binary series, rows in processing order.
        target: (T, n) binary series over the same rows.
        parts: P, number of windows (see :func:`window_bounds`).
        growing: windows [0, b_j) (growing, as an estimate updated after every batch) instead
            of consecutive parts [b_{j−1}, b_j).
        n_surrogates: surrogates per window.
        seed: seed of every window's surrogate generator.
        method: ``"shuffle"`` or ``"circular"``, as in ``transfer_entropy_null``.
        delay: source→target lag.
        whole: ``transfer_entropy_null`` of the whole series with the same settings, when the
            caller has it: reused for a window that spans the whole series (the last growing
            window) instead of being computed again.

    Returns:
        :class:`TransferEntropyWindows`, each field (P,).

    Raises:
        ValueError: a window shorter than ``max(delay, 1) + 1`` rows (use fewer parts).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randint(0, 2, (400, 2), generator=g)
        >>> y = torch.roll(x, 1, 0)  # y_t = x_{t-1}
        >>> w = transfer_entropy_windows(x, y, 2, n_surrogates=19)
        >>> w.stop.tolist(), bool((w.te_mean > w.null_mean + 5 * w.null_std).all())
        ([200, 400], True)
    """
    x, y, lag = _check_pair(source, target, delay)
    length = x.shape[0]
    parts = check_int(
        "parts", parts, minimum=1, maximum=length, hint="(at most one window per row)"
    )
    bounds = window_bounds(length, parts, growing=growing)
    need = max(lag, 1) + 1
    shortest = min(b - a for a, b in bounds)
    if shortest < need:
        raise ValueError(
            f"parts={parts} over {length} rows gives windows of {shortest} rows; TE with "
            f"delay={lag} needs at least {need} per window — use fewer parts"
        )
    te, mean, std, p = [], [], [], []
    for a, b in bounds:
        sig = transfer_entropy_null(x[a:b], y[a:b], n_surrogates, seed, method=method, delay=lag)
        observed = sig.te.mean()
        null = sig.null_pair_mean
        te.append(observed)
        mean.append(null.mean())
        std.append(null.std(correction=0))
        exceed = (null >= observed - 1e-12).sum()
        p.append((1.0 + exceed.double()) / (1.0 + null.numel()))
    return TransferEntropyWindows(
        start=torch.tensor([a for a, _ in bounds], dtype=torch.long),
        stop=torch.tensor([b for _, b in bounds], dtype=torch.long),
        te_mean=torch.stack(te),
        null_mean=torch.stack(mean),
        null_std=torch.stack(std),
        p_value=torch.stack(p),
    )
