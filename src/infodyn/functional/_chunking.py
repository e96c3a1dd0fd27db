"""Row chunking: the one way infodyn splits n sample rows into memory-bounded blocks.

Estimators that build n×n or n×d products accept ``chunk_size`` (rows per block) as a memory
knob that never changes the value; they validate it with :func:`check_chunk_size` at the
boundary and loop over :func:`row_slices` (a loop over blocks, never over samples).
"""

from __future__ import annotations

from infodyn._validation import check_int

__all__ = ["check_chunk_size", "row_slices"]


def check_chunk_size(chunk_size: object) -> int | None:
    """Return ``chunk_size`` if it is None or an integer >= 1, else raise ``ValueError``.

    Example:
        >>> check_chunk_size(256), check_chunk_size(None)
        (256, None)
    """
    return check_int(
        "chunk_size",
        chunk_size,
        minimum=1,
        allow_none=True,
        hint="it is the number of rows processed at a time; None processes all rows at once",
    )


def row_slices(n: int, chunk_size: int | None) -> list[slice]:
    """Consecutive slices that cover rows 0 … n−1 in order, each at most ``chunk_size`` long.

    Args:
        n: number of rows, n ≥ 0.
        chunk_size: rows per slice (≥ 1), or None for a single slice of all n rows.

    Returns:
        ⌈n / chunk_size⌉ slices (one when ``chunk_size`` is None, none when n = 0); only the
        last may be shorter.

    Example:
        >>> row_slices(5, 2)
        [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
        >>> row_slices(5, None)
        [slice(0, 5, None)]
    """
    rows = check_int("n", n, minimum=0)
    step = check_chunk_size(chunk_size)
    if step is None:
        step = max(rows, 1)
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]
