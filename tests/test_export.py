"""Export of scalar records to CSV and JSON, checked by parsing the output back."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from infodyn.export import export_scalars
from infodyn.store import RunStore, Scalar

RECORDS = [
    Scalar(10, "train", "loss", 0.1 + 0.2),  # 0.30000000000000004: needs full precision
    Scalar(0, "test", "accuracy", 1 / 3),
    Scalar(0, "train", "mir", 1e-300, layer="blocks.0"),
    Scalar(0, "train", "mir", 2.0, layer="blocks.1", mode="live"),
    Scalar(5, "train", "loss", math.nan),
    Scalar(6, "train", "loss", math.inf),
    Scalar(0, "train", "loss, with comma", -0.0),
]


@pytest.fixture
def store(tmp_path: Path):
    with RunStore(tmp_path / "run.sqlite") as s:
        s.write(RECORDS)
        yield s


def test_csv_header_and_rows_parse_back_exactly(store: RunStore) -> None:
    buf = io.StringIO()
    assert export_scalars(store, buf, "csv") == len(RECORDS)
    text = buf.getvalue()
    assert text.splitlines()[0] == "step,split,metric,layer,value,mode"
    assert "\r" not in text
    rows = list(csv.reader(io.StringIO(text)))[1:]
    expected = store.scalars()
    assert len(rows) == len(expected)
    for row, rec in zip(rows, expected, strict=True):
        step, split, metric, layer, value, mode = row
        assert (int(step), split, metric, layer, mode) == (
            rec.step,
            rec.split,
            rec.metric,
            rec.layer,
            rec.mode,
        )
        v = float(value)
        assert (math.isnan(v) and math.isnan(rec.value)) or (
            v == rec.value and math.copysign(1, v) == math.copysign(1, rec.value)
        )
    # Ordered by step, split, metric, layer; a layer-less record has an empty layer cell.
    assert [r[:4] for r in rows] == [
        ["0", "test", "accuracy", ""],
        ["0", "train", "loss, with comma", ""],
        ["0", "train", "mir", "blocks.0"],
        ["0", "train", "mir", "blocks.1"],
        ["5", "train", "loss", ""],
        ["6", "train", "loss", ""],
        ["10", "train", "loss", ""],
    ]
    assert "0,test,accuracy,,0.3333333333333333,eval" in text.splitlines()
    assert [r[5] for r in rows].count("live") == 1
    assert rows[-1][4] == "0.30000000000000004"


def test_json_objects_with_null_layer(store: RunStore) -> None:
    buf = io.StringIO()
    assert export_scalars(store, buf, "json") == len(RECORDS)
    objs = json.loads(buf.getvalue())  # strict JSON: no NaN/Infinity tokens
    assert all(list(o) == ["step", "split", "metric", "layer", "value", "mode"] for o in objs)
    assert objs[0] == {
        "step": 0,
        "split": "test",
        "metric": "accuracy",
        "layer": None,
        "value": 1 / 3,
        "mode": "eval",
    }
    assert objs[3]["mode"] == "live"
    assert objs[2]["layer"] == "blocks.0" and objs[2]["value"] == 1e-300
    assert objs[4]["value"] is None and objs[5]["value"] is None  # NaN and inf
    assert objs[6]["value"] == 0.1 + 0.2
    json.loads(buf.getvalue(), parse_constant=lambda c: pytest.fail(f"non-standard {c}"))


def test_empty_store(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        csv_buf, json_buf = io.StringIO(), io.StringIO()
        assert export_scalars(store, csv_buf, "csv") == 0
        assert export_scalars(store, json_buf, "json") == 0
    assert csv_buf.getvalue() == "step,split,metric,layer,value,mode\n"
    assert json.loads(json_buf.getvalue()) == []


def test_unknown_format(store: RunStore) -> None:
    with pytest.raises(ValueError, match="fmt must be 'csv' or 'json'"):
        export_scalars(store, io.StringIO(), "xml")  # type: ignore[arg-type]
