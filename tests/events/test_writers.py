"""Writers: spec-valid, deterministic, spec-ordered files in every format."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.errors import SchemaError
from distillguard.events.schema import EVENT_SCHEMA, VERDICT_SCHEMA
from distillguard.events.writers import open_writer, write_table
from tests.events.samples import (
    account_rows,
    account_table,
    event_rows,
    event_table,
    label_rows,
    label_table,
)

SPEC_CHECK = Path(__file__).resolve().parents[3] / "shared" / "tools" / "spec_check.py"
SUFFIXES = ("jsonl", "jsonl.gz", "parquet", "csv")


def _spec_check(kind: str, path: Path) -> subprocess.CompletedProcess[str]:
    if not SPEC_CHECK.is_file():
        pytest.skip("shared/tools/spec_check.py is not present")
    return subprocess.run(
        [sys.executable, str(SPEC_CHECK), kind, str(path)], capture_output=True, text=True
    )


def _jsonl_lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "parquet"])
@pytest.mark.parametrize("kind", ["events", "accounts", "labels"])
def test_output_passes_the_spec_checker(tmp_path, suffix, kind):
    table = {
        "events": lambda: event_table(event_rows(12)),
        "accounts": lambda: account_table(account_rows(4)),
        "labels": lambda: label_table(label_rows(4)),
    }[kind]()
    path = write_table(tmp_path / f"{kind}.{suffix}", kind, table)
    result = _spec_check(kind, path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_same_input_gives_the_same_bytes(tmp_path, suffix):
    table = event_table(event_rows(9))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_table(tmp_path / "a" / f"e.{suffix}", "events", table)
    b = write_table(tmp_path / "b" / f"other-name.{suffix}", "events", table)
    assert a.read_bytes() == b.read_bytes()


def test_jsonl_keys_in_spec_order_and_absent_fields_omitted(tmp_path):
    rows = event_rows(8)
    path = write_table(tmp_path / "e.jsonl", "events", event_table(rows))
    order = EVENT_SCHEMA.names
    for line, row in zip(_jsonl_lines(path), rows, strict=True):
        obj = json.loads(line)
        keys = list(obj)
        assert keys == sorted(keys, key=order.index)
        assert None not in obj.values()
        assert obj == row  # params as an object, every value round-trips


def test_batched_jsonl_writes_equal_one_write(tmp_path):
    table = event_table(event_rows(10))
    one = write_table(tmp_path / "one.jsonl.gz", "events", table)
    with open_writer(tmp_path / "many.jsonl.gz", "events") as w:
        for batch in table.to_batches(max_chunksize=3):
            w.write(batch)
    assert w.rows_written == 10
    assert gzip.decompress(one.read_bytes()) == gzip.decompress(
        (tmp_path / "many.jsonl.gz").read_bytes()
    )


def test_parquet_keeps_nested_lists_and_params_as_json_string(tmp_path):
    rows = event_rows(4)
    path = write_table(tmp_path / "e.parquet", "events", event_table(rows))
    back = pq.read_table(path)
    assert back.schema.equals(EVENT_SCHEMA)
    first = back.to_pylist()[0]
    assert first["messages"] == rows[0]["messages"]
    assert json.loads(first["params"]) == rows[0]["params"]


def test_csv_nested_fields_are_json_strings(tmp_path):
    rows = event_rows(4)
    path = write_table(tmp_path / "e.csv", "events", event_table(rows))
    with path.open(newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == EVENT_SCHEMA.names
    assert json.loads(got[0]["messages"]) == rows[0]["messages"]
    assert json.loads(got[0]["params"]) == rows[0]["params"]
    assert json.loads(got[2]["features"]) == rows[2]["features"]
    assert got[1]["messages"] == ""


def test_columns_may_be_missing_reordered_and_timestamps_typed(tmp_path):
    ts = datetime(2026, 11, 28, 9, 30, 1, 250000, tzinfo=UTC)
    table = pa.table(
        {
            "status": pa.array([200], pa.int32()),
            "ts": pa.array([ts], pa.timestamp("us", tz="UTC")),
            "request_id": ["x"],
            "account_id": ["a"],
            "endpoint": ["embeddings"],
            "model": ["m"],
            "client_ip": ["::1"],
            "latency_ms": [float("nan")],
        }
    )
    path = write_table(tmp_path / "e.jsonl", "events", table)
    (obj,) = [json.loads(x) for x in _jsonl_lines(path)]
    assert list(obj) == [
        "request_id",
        "ts",
        "account_id",
        "endpoint",
        "model",
        "client_ip",
        "status",
    ]
    assert obj["ts"] == "2026-11-28T09:30:01.250Z"
    assert obj["status"] == 200


def test_unknown_column_is_refused(tmp_path):
    table = event_table(event_rows(1)).append_column("secret_extra", pa.array(["x"]))
    with pytest.raises(SchemaError, match="secret_extra"):
        write_table(tmp_path / "e.jsonl", "events", table)


def test_params_that_is_not_json_is_refused(tmp_path):
    table = event_table(event_rows(1)).set_column(
        EVENT_SCHEMA.get_field_index("params"), "params", pa.array(["{not json"])
    )
    with pytest.raises(SchemaError, match="params"):
        write_table(tmp_path / "e.jsonl", "events", table)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_writer_leaves_a_readable_file(tmp_path, suffix):
    path = tmp_path / f"e.{suffix}"
    with open_writer(path, "events"):
        pass
    if suffix == "parquet":
        assert pq.read_table(path).schema.equals(EVENT_SCHEMA)
    elif suffix == "csv":
        assert path.read_text().strip().split(",")[0] == '"request_id"'
    else:
        assert _jsonl_lines(path) == []


def test_verdicts_keep_nullable_keys_as_null(tmp_path):
    table = pa.Table.from_pylist(
        [{"account_id": "a", "score": 0.2, "flagged": False, "reasons": None}],
        schema=VERDICT_SCHEMA,
    )
    path = write_table(tmp_path / "v.jsonl", "verdicts", table)
    (obj,) = [json.loads(x) for x in _jsonl_lines(path)]
    assert obj == {
        "account_id": "a",
        "score": 0.2,
        "flagged": False,
        "cluster_id": None,
        "reasons": [],
        "first_flagged_at": None,
    }
    assert _spec_check("verdicts", path).returncode == 0
