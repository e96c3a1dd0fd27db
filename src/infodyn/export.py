"""Export a run's scalar records to CSV or JSON for tools outside infodyn."""

from __future__ import annotations

import csv
import json
import math
from typing import Literal, TextIO

from infodyn.store import RunStore

__all__ = ["EXPORT_FIELDS", "export_scalars"]

#: Column order of the CSV header and key order of each JSON object.
EXPORT_FIELDS = ("step", "split", "metric", "layer", "value", "mode")


def export_scalars(store: RunStore, out: TextIO, fmt: Literal["csv", "json"]) -> int:
    """Write every scalar record of ``store`` to ``out``, ordered by step, split, metric, layer.

    Formats:
        ``csv``: header ``step,split,metric,layer,value,mode``; ``layer`` is empty where the
        record has none; ``mode`` is ``eval`` or ``live`` (how the value was measured); values
        are written with ``repr`` so each float parses back to the identical float (``nan``,
        ``inf`` and ``-inf`` included). Lossless.

        ``json``: a list of ``{"step", "split", "metric", "layer", "value", "mode"}`` objects,
        one per line, with ``layer`` null where the record has none. JSON has no literal for NaN or
        infinity, so non-finite values are written as null to keep the file standard JSON; use
        CSV where they matter.

    Args:
        store: An open store (readonly is fine).
        out: A text stream, e.g. ``open(path, "w", newline="")`` for CSV.
        fmt: ``"csv"`` or ``"json"``.

    Returns:
        The number of records written (the CSV header is not counted).

    Example:
        >>> import io, tempfile, pathlib
        >>> from infodyn.store import Scalar
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(0, "train", "mir", 0.25, layer="fc1"),
        ...                      Scalar(0, "train", "loss", 0.1)])
        ...         buf = io.StringIO()
        ...         n = export_scalars(store, buf, "csv")
        >>> n
        2
        >>> print(buf.getvalue(), end="")
        step,split,metric,layer,value,mode
        0,train,loss,,0.1,eval
        0,train,mir,fc1,0.25,eval
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"fmt must be 'csv' or 'json', got {fmt!r}")
    records = store.scalars()
    if fmt == "csv":
        # lineterminator "\n": the csv default "\r\n" would double up on Windows text streams.
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_FIELDS)
        writer.writerows(
            (r.step, r.split, r.metric, r.layer, repr(r.value), r.mode) for r in records
        )
    else:
        out.write("[")
        for i, r in enumerate(records):
            obj = {
                "step": r.step,
                "split": r.split,
                "metric": r.metric,
                "layer": r.layer or None,
                "value": r.value if math.isfinite(r.value) else None,
                "mode": r.mode,
            }
            out.write(("\n" if i == 0 else ",\n") + json.dumps(obj, allow_nan=False))
        out.write("\n]\n" if records else "]\n")
    return len(records)
