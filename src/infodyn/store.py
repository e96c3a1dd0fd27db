"""RunStore: the SQLite file that holds every measurement of one run.

Records are keyed by ``(step, split, metric, layer)``; ``layer`` is ``""`` for a run-level
quantity such as loss. Each record also says how it was measured, its ``mode``: ``"eval"`` for a
separate evaluation pass (model in eval mode, no gradients), ``"live"`` for values accumulated
from the training forward passes themselves. One series (a key without its step) has one mode:
writing a key again under the other mode is refused. Scalars live in one table, arrays
(``.npy`` bytes, never pickled) in another, and JSON-encoded metadata in a third. Each
:meth:`RunStore.write` call is one SQLite transaction in WAL mode, so a reader never sees half a
batch and a run killed with SIGKILL leaves a store that opens with every committed batch
complete.

SQLite stores a NaN ``REAL`` as ``NULL``; the store reads ``NULL`` back as NaN so a diverged
metric is kept faithfully, and it never writes NaN for a value that was not NaN.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

__all__ = ["MODES", "SCHEMA_VERSION", "Array", "Mode", "RunStore", "Scalar"]

#: Bumped whenever the table layout changes. Version 1 stores (no ``mode`` column) are migrated
#: on their first writable open and read as all-``"eval"`` when opened readonly; any other
#: version is refused.
SCHEMA_VERSION = 2

Mode = Literal["eval", "live"]
#: How a record was measured: a separate evaluation pass, or the training passes themselves.
MODES: tuple[Mode, ...] = ("eval", "live")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scalars (
    step   INTEGER NOT NULL,
    split  TEXT    NOT NULL,
    metric TEXT    NOT NULL,
    layer  TEXT    NOT NULL DEFAULT '',
    value  REAL,  -- NULL encodes NaN: SQLite turns a NaN REAL into NULL on insert
    mode   TEXT    NOT NULL DEFAULT 'eval',  -- 'eval' | 'live'
    PRIMARY KEY (step, split, metric, layer)
);
CREATE TABLE IF NOT EXISTS arrays (
    step   INTEGER NOT NULL,
    split  TEXT    NOT NULL,
    metric TEXT    NOT NULL,
    layer  TEXT    NOT NULL DEFAULT '',
    dtype  TEXT    NOT NULL,
    shape  TEXT    NOT NULL,  -- JSON list, for inspection without decoding the blob
    data   BLOB    NOT NULL,  -- np.save(..., allow_pickle=False) bytes
    mode   TEXT    NOT NULL DEFAULT 'eval',  -- 'eval' | 'live'
    PRIMARY KEY (step, split, metric, layer)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_ORDER = "ORDER BY step, split, metric, layer"


@dataclass(frozen=True, slots=True)
class Scalar:
    """One scalar measurement.

    Attributes:
        step: Training step, an ``int >= 0``.
        split: Data split, e.g. ``"train"`` or ``"test"``.
        metric: Metric name, e.g. ``"accuracy"`` or ``"mir"``.
        value: The measurement; NaN is stored and read back as NaN.
        layer: Layer name, or ``""`` for a quantity that belongs to no layer.
        mode: ``"eval"`` (a separate evaluation pass) or ``"live"`` (training passes).
    """

    step: int
    split: str
    metric: str
    value: float
    layer: str = ""
    mode: Mode = "eval"


# eq=False: the generated __eq__ would compare ndarrays elementwise and raise on truth testing.
@dataclass(frozen=True, eq=False)
class Array:
    """One array-valued measurement (e.g. a transfer-entropy matrix or a spectrum).

    Attributes:
        step: Training step, an ``int >= 0``.
        split: Data split.
        metric: Metric name.
        value: A numeric ``np.ndarray`` of any shape (0-d included; a numpy scalar is stored as
            a 0-d array); object arrays are refused.
        layer: Layer name, or ``""``.
        mode: ``"eval"`` (a separate evaluation pass) or ``"live"`` (training passes).
    """

    step: int
    split: str
    metric: str
    value: np.ndarray
    layer: str = ""
    mode: Mode = "eval"


def _check_key(
    kind: str, i: int, step: object, split: object, metric: object, layer: object, mode: object
) -> int:
    """Validate the record key fields of record ``i`` and return the step as a plain int."""
    where = f"{kind} record {i}"
    if isinstance(step, bool) or not isinstance(step, int | np.integer):
        raise TypeError(f"{where}: step must be an int, got {type(step).__name__} ({step!r})")
    if step < 0:
        raise ValueError(f"{where}: step must be >= 0, got {step}")
    for name, field in (("split", split), ("metric", metric)):
        if not isinstance(field, str) or not field:
            raise ValueError(f"{where}: {name} must be a non-empty str, got {field!r}")
    if not isinstance(layer, str):
        raise TypeError(f"{where}: layer must be a str ('' for no layer), got {layer!r}")
    if mode not in MODES:
        raise ValueError(f"{where}: mode must be one of {MODES}, got {mode!r}")
    return int(step)


def _scalar_row(i: int, s: Scalar) -> tuple[int, str, str, str, float, str]:
    if not isinstance(s, Scalar):
        raise TypeError(f"scalars[{i}] must be a Scalar, got {type(s).__name__}")
    step = _check_key("scalar", i, s.step, s.split, s.metric, s.layer, s.mode)
    v = s.value
    # A tensor or a string would convert silently with float(); demand a plain number instead.
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(
            f"scalar record {i} ({s.metric}/{s.split}): value must be a real number, got "
            f"{type(v).__name__}; call .item() on a 0-d tensor or array"
        )
    return (step, s.split, s.metric, s.layer, float(v), s.mode)


def _array_row(i: int, a: Array) -> tuple[int, str, str, str, str, str, bytes, str]:
    if not isinstance(a, Array):
        raise TypeError(f"arrays[{i}] must be an Array, got {type(a).__name__}")
    step = _check_key("array", i, a.step, a.split, a.metric, a.layer, a.mode)
    v = a.value
    if isinstance(v, np.generic):  # arithmetic on 0-d arrays yields numpy scalars; keep them 0-d
        v = np.asarray(v)
    if not isinstance(v, np.ndarray):
        raise TypeError(
            f"array record {i} ({a.metric}/{a.split}): value must be a numpy.ndarray, got "
            f"{type(v).__name__}; convert a tensor with .detach().cpu().numpy()"
        )
    if v.dtype.hasobject:
        raise TypeError(
            f"array record {i} ({a.metric}/{a.split}): object arrays cannot be stored "
            f"(they would need pickle); use a numeric dtype"
        )
    buf = io.BytesIO()
    np.save(buf, v, allow_pickle=False)
    return (
        step,
        a.split,
        a.metric,
        a.layer,
        v.dtype.str,
        json.dumps(list(v.shape)),
        buf.getvalue(),
        a.mode,
    )


def _decode_array(blob: bytes) -> np.ndarray:
    arr: np.ndarray = np.load(io.BytesIO(blob), allow_pickle=False)
    return arr


def _where(**filters: str | None) -> tuple[str, list[str]]:
    """Build a ``WHERE`` clause from the filters that are not None (names are trusted)."""
    clauses = [f"{name} = ?" for name, v in filters.items() if v is not None]
    params = [v for v in filters.values() if v is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class RunStore:
    """Read and write the measurements of one run in a SQLite file.

    Args:
        path: The ``.sqlite`` file. Opened writable it is created (with its schema) if missing;
            its parent directory must exist.
        readonly: Open with SQLite's ``mode=ro``; every write method raises ``PermissionError``.
            The file must exist.

    The store can be shared between threads (one internal lock serialises access) and read by
    other processes while one process writes (WAL mode).

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with RunStore(pathlib.Path(d) / "run.sqlite") as store:
        ...         store.write([Scalar(0, "train", "loss", 2.5), Scalar(10, "train", "loss", 0.5)])
        ...         steps, values = store.series("loss", "train")
        >>> steps.tolist(), values.tolist()
        ([0, 10], [2.5, 0.5])
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"no run store at {self.path}; a readonly store must already exist — check "
                    f"the path or create it by opening RunStore(path) writable"
                )
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self._conn: sqlite3.Connection | None = self._connect(uri, uri=True)
        else:
            if not self.path.parent.is_dir():
                raise FileNotFoundError(
                    f"cannot create a run store at {self.path}: directory {self.path.parent} "
                    f"does not exist; create it first (RunDir.create does)"
                )
            self._conn = self._connect(str(self.path), uri=False)
        try:
            self._init_schema()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so one write() is one transaction.
        # check_same_thread=False: a monitor may write from a worker thread; self._lock guards.
        return sqlite3.connect(
            target, uri=uri, timeout=30.0, isolation_level=None, check_same_thread=False
        )

    def _init_schema(self) -> None:
        if self.readonly:
            tables = {
                r[0] for r in self._query("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not {"scalars", "arrays", "meta"} <= tables:
                raise ValueError(
                    f"{self.path} is not an infodyn run store (tables found: {sorted(tables)})"
                )
        else:
            # WAL + synchronous=NORMAL: a commit survives a killed process; readers never block.
            conn = self._connection()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._transaction():
                existed = bool(
                    conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='scalars'"
                    ).fetchall()
                )
                # executescript would COMMIT our transaction first; run statements one by one.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (json.dumps(1 if existed else SCHEMA_VERSION),),
                )
                self._migrate(conn)
        version = self.get_meta("schema_version")
        self._has_mode = version == SCHEMA_VERSION
        if version not in (1, SCHEMA_VERSION) or (version == 1 and not self.readonly):
            raise ValueError(
                f"{self.path} has store schema version {version!r}, this infodyn reads versions "
                f"1 and {SCHEMA_VERSION}; open it with the infodyn version that wrote it"
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring a version-1 store to version 2 inside the open transaction.

        Version 2 adds the ``mode`` column; every record written before it was measured in a
        separate evaluation pass, which is what its default ``'eval'`` says.
        """
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if json.loads(row[0]) != 1:
            return
        for table in ("scalars", "arrays"):
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if "mode" not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN mode TEXT NOT NULL DEFAULT 'eval'")
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (json.dumps(SCHEMA_VERSION),)
        )

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction: committed if the block succeeds, rolled back otherwise."""
        with self._lock:
            conn = self._connection()
            # IMMEDIATE takes the write lock up front, so a concurrent writer waits (busy
            # timeout) instead of failing half-way through the batch.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError(f"run store {self.path} is closed; open a new RunStore to use it")
        return self._conn

    def _check_writable(self, what: str) -> None:
        self._connection()
        if self.readonly:
            raise PermissionError(
                f"cannot {what}: run store {self.path} was opened readonly; "
                f"open RunStore(path) without readonly=True to write"
            )

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, tuple(params)).fetchall()

    # -- records ------------------------------------------------------------------------------

    def write(self, scalars: Sequence[Scalar] = (), arrays: Sequence[Array] = ()) -> None:
        """Write a batch of records in one transaction (all of it or none of it).

        A record whose key ``(step, split, metric, layer)`` already exists replaces the old one,
        so re-measuring a step after a resume never duplicates it. It must keep the old
        record's ``mode``: a live value never silently replaces an evaluation-pass value.

        Args:
            scalars: Scalar records; values may be NaN or infinite.
            arrays: Array records; numeric ``np.ndarray`` values of any shape.

        Raises:
            TypeError, ValueError: A record is malformed, or its key is stored under the other
                mode (nothing of the batch is written).
            PermissionError: The store is readonly.
        """
        self._check_writable("write records")
        # Validate and encode the whole batch before touching the database.
        scalar_rows = [_scalar_row(i, s) for i, s in enumerate(scalars)]
        array_rows = [_array_row(i, a) for i, a in enumerate(arrays)]
        if not scalar_rows and not array_rows:
            return
        with self._transaction() as conn:
            before = conn.total_changes
            # The WHERE makes a write under another mode a no-op, which the change count reveals.
            conn.executemany(
                "INSERT INTO scalars (step, split, metric, layer, value, mode) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (step, split, metric, layer) DO UPDATE SET value = excluded.value "
                "WHERE mode = excluded.mode",
                scalar_rows,
            )
            conn.executemany(
                "INSERT INTO arrays (step, split, metric, layer, dtype, shape, data, mode) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (step, split, metric, layer) DO UPDATE SET "
                "dtype = excluded.dtype, shape = excluded.shape, data = excluded.data "
                "WHERE mode = excluded.mode",
                array_rows,
            )
            if conn.total_changes - before != len(scalar_rows) + len(array_rows):
                raise ValueError(self._mode_conflict(conn, scalar_rows, array_rows))

    @staticmethod
    def _mode_conflict(
        conn: sqlite3.Connection,
        scalar_rows: Sequence[tuple[Any, ...]],
        array_rows: Sequence[tuple[Any, ...]],
    ) -> str:
        """Describe the first record whose key is already stored under the other mode."""
        for table, rows in (("scalars", scalar_rows), ("arrays", array_rows)):
            for row in rows:
                step, split, metric, layer, mode = (*row[:4], row[-1])
                stored = conn.execute(
                    f"SELECT mode FROM {table} WHERE step = ? AND split = ? AND metric = ? "
                    "AND layer = ?",
                    (step, split, metric, layer),
                ).fetchone()
                if stored is not None and stored[0] != mode:
                    return (
                        f"{metric}/{split}[{layer}] at step {step} is already recorded in mode "
                        f"{stored[0]!r}, not {mode!r}; record live and eval measurements under "
                        f"different split names (e.g. 'train' and 'train-live')"
                    )
        return "a record conflicted with one already stored"  # pragma: no cover

    @property
    def _mode_column(self) -> str:
        # A version-1 store opened readonly has no mode column: all its records are 'eval'.
        return "mode" if self._has_mode else "'eval'"

    def scalars(
        self, *, metric: str | None = None, split: str | None = None, layer: str | None = None
    ) -> list[Scalar]:
        """Return scalar records matching the filters (None = any), ordered by key."""
        where, params = _where(metric=metric, split=split, layer=layer)
        rows = self._query(
            f"SELECT step, split, metric, layer, value, {self._mode_column} FROM scalars{where} "
            f"{_ORDER}",
            params,
        )
        return [
            Scalar(step, sp, m, math.nan if v is None else float(v), lay, mode)
            for step, sp, m, lay, v, mode in rows
        ]

    def arrays(
        self, *, metric: str | None = None, split: str | None = None, layer: str | None = None
    ) -> list[Array]:
        """Return array records matching the filters (None = any), ordered by key."""
        where, params = _where(metric=metric, split=split, layer=layer)
        rows = self._query(
            f"SELECT step, split, metric, layer, data, {self._mode_column} FROM arrays{where} "
            f"{_ORDER}",
            params,
        )
        return [
            Array(step, sp, m, _decode_array(blob), lay, mode)
            for step, sp, m, lay, blob, mode in rows
        ]

    def modes(self) -> dict[tuple[str, str, str], Mode]:
        """The mode of every series, ``{(metric, split, layer): "eval" | "live"}``.

        Scalar and array series both appear; a key is in one mode only (see :meth:`write`).
        """
        found: dict[tuple[str, str, str], Mode] = {}
        for table in ("scalars", "arrays"):
            for m, s, lay, mode in self._query(
                f"SELECT DISTINCT metric, split, layer, {self._mode_column} FROM {table}"
            ):
                found[(m, s, lay)] = mode
        return found

    def series(
        self, metric: str, split: str, layer: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return one scalar time series as ``(steps, values)``.

        Args:
            metric: Metric name.
            split: Split name.
            layer: Layer name; None picks the only layer recorded for ``metric``/``split``.

        Returns:
            ``steps`` (int64, ascending) and ``values`` (float64, NaN where NaN was written).

        Raises:
            LookupError: Nothing is recorded for ``metric``/``split`` (the message lists what is).
            ValueError: ``layer`` is None and several layers are recorded.
        """
        if layer is None:
            layers = [
                r[0]
                for r in self._query(
                    "SELECT DISTINCT layer FROM scalars WHERE metric = ? AND split = ? "
                    "ORDER BY layer",
                    (metric, split),
                )
            ]
            if len(layers) > 1:
                raise ValueError(
                    f"metric {metric!r} on split {split!r} is recorded for layers {layers}; "
                    f"pass layer= to choose one"
                )
            layer = layers[0] if layers else ""
        rows = self._query(
            "SELECT step, value FROM scalars WHERE metric = ? AND split = ? AND layer = ? "
            "ORDER BY step",
            (metric, split, layer),
        )
        if not rows:
            known = ", ".join(f"{m}/{s}[{lay}]" for m, s, lay in self.keys()) or "nothing"
            raise LookupError(
                f"no scalars for metric {metric!r}, split {split!r}, layer {layer!r}; "
                f"the store holds: {known}"
            )
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([math.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        return steps, values

    def keys(self) -> list[tuple[str, str, str]]:
        """Distinct ``(metric, split, layer)`` of the scalar records, sorted."""
        rows = self._query(
            "SELECT DISTINCT metric, split, layer FROM scalars ORDER BY metric, split, layer"
        )
        return [(m, s, lay) for m, s, lay in rows]

    def array_keys(self) -> list[tuple[str, str, str]]:
        """Distinct ``(metric, split, layer)`` of the array records, sorted."""
        rows = self._query(
            "SELECT DISTINCT metric, split, layer FROM arrays ORDER BY metric, split, layer"
        )
        return [(m, s, lay) for m, s, lay in rows]

    def last_step(self) -> int | None:
        """The largest step of any scalar or array record, or None for an empty store."""
        row = self._query(
            "SELECT MAX(step) FROM (SELECT MAX(step) AS step FROM scalars "
            "UNION ALL SELECT MAX(step) FROM arrays)"
        )
        return None if row[0][0] is None else int(row[0][0])

    def truncate_after(self, step: int) -> int:
        """Delete every scalar and array record with a step greater than ``step``.

        Used on resume: records measured after the checkpoint being resumed from belong to a
        timeline that is about to be recomputed. ``step = -1`` (resuming from no checkpoint)
        deletes every record.

        Returns:
            The number of records deleted.
        """
        self._check_writable("truncate records")
        if isinstance(step, bool) or not isinstance(step, int | np.integer):
            raise TypeError(f"step must be an int, got {type(step).__name__} ({step!r})")
        with self._transaction() as conn:
            n = conn.execute("DELETE FROM scalars WHERE step > ?", (int(step),)).rowcount
            n += conn.execute("DELETE FROM arrays WHERE step > ?", (int(step),)).rowcount
        return int(n)

    # -- metadata -----------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        """Set metadata ``key`` to the JSON-encodable ``value`` (replacing any old value)."""
        self._check_writable("set metadata")
        if not isinstance(key, str) or not key:
            raise ValueError(f"meta key must be a non-empty str, got {key!r}")
        try:
            encoded = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"meta value for {key!r} is not JSON-encodable ({exc}); store plain numbers, "
                f"strings, lists and dicts"
            ) from exc
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return the decoded metadata value for ``key``, or ``default`` if it is not set."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def meta(self) -> dict[str, Any]:
        """All metadata, decoded, including ``schema_version``."""
        return {
            k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta ORDER BY key")
        }

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else "writable"
        return f"RunStore({str(self.path)!r}, {mode})"
