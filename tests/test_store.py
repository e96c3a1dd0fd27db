"""RunStore: round trips, upsert, ordering, truncation, readonly mode, crash safety."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import infodyn
from infodyn.store import SCHEMA_VERSION, Array, RunStore, Scalar


@pytest.fixture
def store(tmp_path: Path):
    with RunStore(tmp_path / "run.sqlite") as s:
        yield s


def test_scalar_round_trip_with_and_without_layer(store: RunStore) -> None:
    records = [
        Scalar(0, "train", "loss", 2.5),
        Scalar(0, "train", "mir", 0.125, layer="blocks.0.mlp"),
        Scalar(3, "test", "accuracy", 1),  # an int value is stored as float
        Scalar(5, "test", "loss", np.float32(0.5)),
    ]
    store.write(records)
    got = store.scalars()
    assert got == [
        Scalar(0, "train", "loss", 2.5),
        Scalar(0, "train", "mir", 0.125, layer="blocks.0.mlp"),
        Scalar(3, "test", "accuracy", 1.0),
        Scalar(5, "test", "loss", 0.5),
    ]
    assert all(type(r.value) is float for r in got)
    assert store.scalars(layer="blocks.0.mlp") == [got[1]]
    assert store.scalars(layer="") == [got[0], got[2], got[3]]
    assert store.scalars(metric="loss", split="test") == [got[3]]


def test_non_finite_values_are_kept_faithfully(store: RunStore) -> None:
    store.write(
        [
            Scalar(0, "train", "loss", math.nan),
            Scalar(1, "train", "loss", math.inf),
            Scalar(2, "train", "loss", -math.inf),
            Scalar(3, "train", "loss", 0.0),
        ]
    )
    _, values = store.series("loss", "train")
    assert math.isnan(values[0])
    assert values[1:].tolist() == [math.inf, -math.inf, 0.0]  # 0.0 never becomes NaN


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_array_round_trip(tmp_path: Path, dtype: type, shape: tuple[int, ...]) -> None:
    value = np.asarray(np.arange(int(np.prod(shape))).reshape(shape) % 5, dtype=dtype)
    assert isinstance(value, np.ndarray) and value.ndim == len(shape)
    with RunStore(tmp_path / "run.sqlite") as store:
        store.write(arrays=[Array(7, "train", "te_matrix", value, layer="fc1")])
    with RunStore(tmp_path / "run.sqlite", readonly=True) as store:
        (got,) = store.arrays()
    assert (got.step, got.split, got.metric, got.layer) == (7, "train", "te_matrix", "fc1")
    assert got.value.dtype == np.dtype(dtype)
    assert got.value.shape == shape
    np.testing.assert_array_equal(got.value, value)


def test_numpy_scalar_is_stored_as_0d_array(store: RunStore) -> None:
    store.write(arrays=[Array(0, "train", "a", np.float32(1.5))])  # type: ignore[arg-type]
    (got,) = store.arrays()
    assert got.value.shape == () and got.value.dtype == np.float32 and got.value == 1.5


def test_arrays_filter_order_and_keys(store: RunStore) -> None:
    store.write(
        arrays=[
            Array(2, "test", "spectrum", np.ones(2)),
            Array(1, "train", "spectrum", np.zeros(3)),
            Array(1, "train", "te", np.eye(2), layer="fc"),
        ]
    )
    assert [(a.step, a.metric) for a in store.arrays()] == [
        (1, "spectrum"),
        (1, "te"),
        (2, "spectrum"),
    ]
    assert [a.step for a in store.arrays(metric="spectrum", split="test")] == [2]
    assert store.array_keys() == [
        ("spectrum", "test", ""),
        ("spectrum", "train", ""),
        ("te", "train", "fc"),
    ]
    assert store.keys() == []  # scalar keys only


def test_meta_round_trip(store: RunStore) -> None:
    store.set_meta("wall_time_s", 12.5)
    store.set_meta("versions", {"torch": "2.13.0", "cuda": None})
    store.set_meta("wall_time_s", 13.0)  # upsert
    assert store.get_meta("wall_time_s") == 13.0
    assert store.get_meta("versions") == {"torch": "2.13.0", "cuda": None}
    assert store.get_meta("absent", default="x") == "x"
    assert store.meta() == {
        "schema_version": SCHEMA_VERSION,
        "versions": {"torch": "2.13.0", "cuda": None},
        "wall_time_s": 13.0,
    }
    with pytest.raises(TypeError, match="not JSON-encodable"):
        store.set_meta("bad", object())


def test_rewriting_a_step_upserts_instead_of_duplicating(store: RunStore) -> None:
    store.write([Scalar(10, "train", "loss", 1.0)], [Array(10, "train", "a", np.zeros(2))])
    store.write([Scalar(10, "train", "loss", 0.5)], [Array(10, "train", "a", np.ones(3))])
    assert store.scalars() == [Scalar(10, "train", "loss", 0.5)]
    (arr,) = store.arrays()
    np.testing.assert_array_equal(arr.value, np.ones(3))


def test_series_is_sorted_by_step_and_typed(store: RunStore) -> None:
    store.write([Scalar(s, "train", "loss", float(s)) for s in (100, 3, 50)])
    store.write([Scalar(0, "train", "loss", -1.0), Scalar(7, "test", "loss", 9.0)])
    steps, values = store.series("loss", "train")
    assert steps.dtype == np.int64 and values.dtype == np.float64
    assert steps.tolist() == [0, 3, 50, 100]
    assert values.tolist() == [-1.0, 3.0, 50.0, 100.0]


def test_series_layer_choice_and_errors(store: RunStore) -> None:
    store.write(
        [Scalar(0, "train", "mir", 0.1, layer="a"), Scalar(0, "train", "mir", 0.2, layer="b")]
    )
    with pytest.raises(ValueError, match=r"layers \['a', 'b'\]; pass layer="):
        store.series("mir", "train")
    assert store.series("mir", "train", layer="b")[1].tolist() == [0.2]
    with pytest.raises(LookupError, match=r"no scalars for metric 'hdr'.*mir/train\[a\]"):
        store.series("hdr", "train")


def test_truncate_after_and_last_step(store: RunStore) -> None:
    assert store.last_step() is None
    store.write(
        [Scalar(s, "train", "loss", 1.0) for s in range(5)], [Array(9, "train", "a", np.zeros(1))]
    )
    assert store.last_step() == 9
    assert store.truncate_after(2) == 3  # steps 3, 4 and the array at 9
    assert store.last_step() == 2
    assert [r.step for r in store.scalars()] == [0, 1, 2]
    assert store.arrays() == []
    assert store.truncate_after(2) == 0
    assert store.truncate_after(-1) == 3  # resuming with no checkpoint: start from nothing
    assert store.last_step() is None
    with pytest.raises(TypeError, match="step must be an int"):
        store.truncate_after(1.5)  # type: ignore[arg-type]


def test_readonly_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.write([Scalar(0, "train", "loss", 1.0)])
    with RunStore(path, readonly=True) as ro:
        assert ro.series("loss", "train")[1].tolist() == [1.0]
        with pytest.raises(PermissionError, match="opened readonly"):
            ro.write([Scalar(1, "train", "loss", 1.0)])
        with pytest.raises(PermissionError, match="opened readonly"):
            ro.set_meta("k", 1)
        with pytest.raises(PermissionError, match="opened readonly"):
            ro.truncate_after(0)
        # Below the guard, SQLite itself refuses too (mode=ro).
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro._connection().execute("DELETE FROM scalars")


def test_readonly_missing_file_errors_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no run store at .*must already exist"):
        RunStore(tmp_path / "nope.sqlite", readonly=True)
    assert not (tmp_path / "nope.sqlite").exists()


def test_writable_store_needs_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        RunStore(tmp_path / "missing" / "run.sqlite")


def test_readonly_rejects_a_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="not an infodyn run store"):
        RunStore(path, readonly=True)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.set_meta("schema_version", SCHEMA_VERSION + 1)
    with pytest.raises(ValueError, match="schema version"):
        RunStore(path)


def test_wal_mode_is_on(store: RunStore) -> None:
    assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("record", "error", "match"),
    [
        (Scalar(-1, "train", "loss", 1.0), ValueError, "step must be >= 0"),
        (Scalar(1.0, "train", "loss", 1.0), TypeError, "step must be an int"),  # type: ignore[arg-type]
        (Scalar(True, "train", "loss", 1.0), TypeError, "step must be an int"),
        (Scalar(0, "", "loss", 1.0), ValueError, "split must be a non-empty str"),
        (Scalar(0, "train", "", 1.0), ValueError, "metric must be a non-empty str"),
        (Scalar(0, "train", "loss", 1.0, layer=None), TypeError, "layer must be a str"),  # type: ignore[arg-type]
        (Scalar(0, "train", "loss", torch.tensor(1.0)), TypeError, r"call \.item\(\)"),  # type: ignore[arg-type]
        (Scalar(0, "train", "loss", "1.0"), TypeError, "real number"),  # type: ignore[arg-type]
    ],
)
def test_bad_scalars_are_rejected_and_nothing_is_written(
    store: RunStore, record: Scalar, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        store.write([Scalar(0, "train", "ok", 1.0), record])
    assert store.scalars() == []  # the valid record of the batch is not written either


def test_bad_arrays_are_rejected(store: RunStore) -> None:
    with pytest.raises(TypeError, match=r"numpy\.ndarray.*detach"):
        store.write(arrays=[Array(0, "train", "a", torch.zeros(2))])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="object arrays"):
        store.write(arrays=[Array(0, "train", "a", np.array([None, 1], dtype=object))])


def test_closed_store_errors(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.close()
    store.close()  # idempotent
    with pytest.raises(ValueError, match="is closed"):
        store.scalars()


def test_reader_sees_commits_of_a_live_writer(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as writer, RunStore(path, readonly=True) as reader:
        writer.write([Scalar(0, "train", "loss", 1.0)])
        assert reader.last_step() == 0
        writer.write([Scalar(1, "train", "loss", 0.5)])
        assert reader.series("loss", "train")[0].tolist() == [0, 1]


_keys = st.tuples(
    st.integers(0, 50), st.sampled_from(["train", "test"]), st.sampled_from(["loss", "mir"]),
    st.sampled_from(["", "fc1"]),
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_keys, st.floats(allow_nan=False)), max_size=30))
def test_last_write_wins_for_any_batch_sequence(tmp_path_factory, batch) -> None:
    path = tmp_path_factory.mktemp("h") / "run.sqlite"
    expected: dict[tuple[int, str, str, str], float] = {}
    with RunStore(path) as store:
        for (step, split, metric, layer), value in batch:
            store.write([Scalar(step, split, metric, value, layer)])
            expected[(step, split, metric, layer)] = value
        got = {(r.step, r.split, r.metric, r.layer): r.value for r in store.scalars()}
        order = [(r.step, r.split, r.metric, r.layer) for r in store.scalars()]
    assert got == expected
    assert order == sorted(order)


_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from infodyn.store import Array, RunStore, Scalar

    store = RunStore(sys.argv[1])
    step = 0
    while True:
        store.write(
            [Scalar(step, "train", f"m{i:03d}", float(step)) for i in range({per_batch})],
            [Array(step, "train", "blob", np.full(2000, step, dtype=np.int64))],
        )
        step += 1
        if step == 5:
            print("committed", flush=True)
    """
)


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_store_survives_sigkill_with_every_batch_complete(tmp_path: Path) -> None:
    per_batch = 40
    path = tmp_path / "run.sqlite"
    src = str(Path(infodyn.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.replace("{per_batch}", str(per_batch)), str(path)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"committed"
        time.sleep(0.3)  # let it commit many more batches and be mid-transaction when killed
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # The writer never closed, so its commits sit in the WAL: reading them is what is tested.
    assert path.with_name("run.sqlite-wal").exists()

    for readonly in (True, False):  # readonly first: it must read the WAL the writer left
        with RunStore(path, readonly=readonly) as store:
            last = store.last_step()
            assert last is not None and last >= 4
            rows = store.scalars()
            per_step = np.bincount([r.step for r in rows])
            # Every committed batch is complete, and batches committed in order.
            assert per_step.tolist() == [per_batch] * (last + 1)
            assert all(r.value == r.step for r in rows)
            arrays = store.arrays()
            assert [a.step for a in arrays] == list(range(last + 1))
            assert all((a.value == a.step).all() and a.value.shape == (2000,) for a in arrays)


# -- mode (schema version 2) --------------------------------------------------------------------

_V1_SCHEMA = """
CREATE TABLE scalars (step INTEGER NOT NULL, split TEXT NOT NULL, metric TEXT NOT NULL,
    layer TEXT NOT NULL DEFAULT '', value REAL, PRIMARY KEY (step, split, metric, layer));
CREATE TABLE arrays (step INTEGER NOT NULL, split TEXT NOT NULL, metric TEXT NOT NULL,
    layer TEXT NOT NULL DEFAULT '', dtype TEXT NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (step, split, metric, layer));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO scalars VALUES (0, 'train', 'loss', '', 2.5);
INSERT INTO scalars VALUES (10, 'train', 'loss', '', 0.5);
"""


def _write_v1_store(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(_V1_SCHEMA)
    conn.close()


def test_mode_round_trips_and_defaults_to_eval(store: RunStore) -> None:
    store.write(
        [Scalar(1, "train", "loss", 0.5), Scalar(1, "train", "mir", 0.25, mode="live")],
        [Array(1, "train", "te", np.eye(2), layer="a->b", mode="live")],
    )
    assert [s.mode for s in store.scalars()] == ["eval", "live"]
    assert store.arrays()[0].mode == "live"
    assert store.modes() == {
        ("loss", "train", ""): "eval",
        ("mir", "train", ""): "live",
        ("te", "train", "a->b"): "live",
    }


def test_rewriting_a_key_under_the_other_mode_is_refused_and_writes_nothing(
    store: RunStore,
) -> None:
    store.write([Scalar(1, "train", "mir", 0.25, mode="live")])
    with pytest.raises(ValueError, match=r"mir/train\[\] at step 1 is already recorded in mode"):
        store.write([Scalar(2, "train", "loss", 1.0), Scalar(1, "train", "mir", 0.3)])
    # the whole batch was rolled back, the live value is intact
    assert [(s.metric, s.value, s.mode) for s in store.scalars()] == [("mir", 0.25, "live")]
    store.write([Scalar(1, "train", "mir", 0.5, mode="live")])  # same mode: an upsert
    assert store.series("mir", "train")[1].tolist() == [0.5]


def test_an_unknown_mode_is_refused(store: RunStore) -> None:
    with pytest.raises(ValueError, match=r"mode must be one of \('eval', 'live'\), got 'train'"):
        store.write([Scalar(1, "train", "mir", 0.25, mode="train")])  # type: ignore[arg-type]


def test_version_1_store_reads_readonly_as_eval_and_migrates_when_opened_writable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.sqlite"
    _write_v1_store(path)
    with RunStore(path, readonly=True) as old:
        assert [(s.step, s.value, s.mode) for s in old.scalars()] == [
            (0, 2.5, "eval"),
            (10, 0.5, "eval"),
        ]
        assert old.modes() == {("loss", "train", ""): "eval"}
    with RunStore(path) as migrated:
        assert migrated.get_meta("schema_version") == SCHEMA_VERSION == 2
        migrated.write([Scalar(20, "train", "loss", 0.25, mode="eval")])
        assert migrated.series("loss", "train")[1].tolist() == [2.5, 0.5, 0.25]
        with pytest.raises(ValueError, match="already recorded in mode 'eval'"):
            migrated.write([Scalar(0, "train", "loss", 1.0, mode="live")])
