"""Ingest: formats round-trip, bad rows are quarantined with reasons, files load atomically."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import distillguard.events.ingest as ingest_module
import distillguard.events.readers as readers
from distillguard.errors import InputFileError, SchemaError
from distillguard.events.ingest import ingest
from distillguard.events.writers import write_table
from distillguard.store import Store
from tests.events.samples import (
    account_rows,
    account_table,
    event_rows,
    event_table,
    label_rows,
    label_table,
    write_jsonl,
)

FORMATS = ("jsonl", "jsonl.gz", "parquet", "csv")


def _rejects(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _stored_events(store: Store) -> dict[str, dict]:
    rel = store.con.sql("SELECT * FROM events ORDER BY request_id")
    names = rel.columns
    return {r[0]: dict(zip(names, r, strict=True)) for r in rel.fetchall()}


@pytest.mark.parametrize("suffix", FORMATS)
def test_each_format_round_trips(tmp_path, suffix):
    rows = event_rows(12)
    path = write_table(tmp_path / f"events.{suffix}", "events", event_table(rows))
    with Store.open() as store:
        report = ingest(store, [path])
        (f,) = report.files
        assert (f.records, f.accepted, f.rejected, f.duplicate) == (12, 12, 0, 0)
        stored = _stored_events(store)
    assert set(stored) == {r["request_id"] for r in rows}
    for row in rows:
        got = stored[row["request_id"]]
        assert got["account_id"] == row["account_id"]
        assert got["status"] == row["status"]
        assert got["ts"].isoformat().replace("+00:00", "Z")[:19] == row["ts"][:19]
        assert got["messages"] == row.get("messages")
        assert got["features"] == row.get("features")
        assert got["response_probs"] == row.get("response_probs")
        assert got["latency_ms"] == row.get("latency_ms")
        assert (json.loads(got["params"]) if got["params"] else None) == row.get("params")
        assert got["response_text"] == row.get("response_text")


@pytest.mark.parametrize("suffix", FORMATS)
def test_accounts_and_labels_round_trip(tmp_path, suffix):
    accounts = write_table(tmp_path / f"a.{suffix}", "accounts", account_table(account_rows(3)))
    labels = write_table(tmp_path / f"l.{suffix}", "labels", label_table(label_rows(3)))
    with Store.open() as store:
        report = ingest(store, [], accounts=[accounts], labels=[labels])
        assert [f.accepted for f in report.files] == [3, 3]
        got = store.con.sql(
            "SELECT account_id, created_at, verification FROM accounts ORDER BY 1"
        ).fetchall()
        label = store.con.sql(
            "SELECT label, campaign_id FROM labels ORDER BY account_id"
        ).fetchall()
    assert [g[0] for g in got] == ["acct-0", "acct-1", "acct-2"]
    assert got[0][1].hour == 6  # 08:00+02:00 stored as 06:00 UTC
    assert label[0] == ("malicious", "camp-1")
    assert label[1] == ("benign", None)


def test_bad_rows_go_to_rejects_with_line_field_and_reason(tmp_path):
    good = event_rows(4)
    bad_type = {**good[1], "request_id": "bad-status", "status": "two hundred"}
    float_int = {**good[1], "request_id": "bad-asn", "asn": 1.5}
    missing = {k: v for k, v in good[1].items() if k != "account_id"} | {"request_id": "no-acct"}
    bad_ts = {**good[1], "request_id": "bad-ts", "ts": "2026-11-28T10:00:00"}
    chat_no_messages = {k: v for k, v in good[0].items() if k != "messages"} | {
        "request_id": "no-msgs"
    }
    predict_no_features = {k: v for k, v in good[2].items() if k != "features"} | {
        "request_id": "no-features"
    }
    params_list = {**good[0], "request_id": "bad-params", "params": [1, 2]}
    features_text = {**good[2], "request_id": "bad-features", "features": [1.0, "x"]}
    records = [
        good[0],
        bad_type,
        '{"request_id": "broken", ',  # malformed JSON
        "",
        float_int,
        missing,
        good[1],
        bad_ts,
        chat_no_messages,
        params_list,
        features_text,
        "[1, 2, 3]",
        good[2],
        good[0],  # duplicate within the file
        predict_no_features,
    ]
    path = tmp_path / "events.jsonl"
    write_jsonl(path, records)
    rejects = tmp_path / "rejects.jsonl"
    with Store.open() as store:
        report = ingest(store, [path], rejects=rejects)
        (f,) = report.files
        assert store.count("events") == 4
    # A chat event without messages is kept (providers may keep no prompts) and counted.
    assert report.no_text == 1
    assert (f.records, f.accepted, f.duplicate) == (14, 4, 1)
    assert f.rejected == 9
    by_line = {r["line"]: r for r in _rejects(rejects)}
    expected = {
        2: ("status", "not an integer"),
        3: ("(record)", "malformed JSON"),
        5: ("asn", "not an integer"),
        6: ("account_id", "required field missing"),
        8: ("ts", "not an RFC 3339 timestamp with offset or Z"),
        10: ("params", "not a JSON object"),
        11: ("features", "not a list of numbers"),
        12: ("(record)", "not a JSON object"),
        15: ("features", "required for predict events"),
    }
    assert {n: (r["field"], r["reason"]) for n, r in by_line.items()} == expected
    assert all(r["source"] == str(path) for r in by_line.values())
    assert by_line[2]["record"]["status"] == "two hundred"
    assert by_line[3]["record"] == '{"request_id": "broken",'


def test_ingesting_the_same_file_twice_changes_nothing(tmp_path):
    path = write_table(tmp_path / "e.jsonl.gz", "events", event_table(event_rows(10)))
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest(store, [path])
        before = _stored_events(store)
        again = ingest(store, [path]).files[0]
        assert (again.accepted, again.duplicate) == (0, 10)
        assert _stored_events(store) == before


def test_overlapping_files_count_only_new_rows(tmp_path):
    rows = event_rows(10)
    a = write_table(tmp_path / "a.parquet", "events", event_table(rows[:6]))
    b = write_table(tmp_path / "b.csv", "events", event_table(rows[4:]))
    with Store.open() as store:
        report = ingest(store, [a, b])
        assert [(f.accepted, f.duplicate) for f in report.files] == [(6, 0), (4, 2)]
        assert store.count("events") == 10


def test_bad_parquet_and_csv_rows_are_numbered_by_row(tmp_path):
    rows = event_rows(5)
    table = event_table(rows)
    status = table.column("status").to_pylist()
    status[3] = None
    table = table.set_column(table.schema.get_field_index("status"), "status", pa.array(status))
    rejects = tmp_path / "r.jsonl"
    for suffix in ("parquet", "csv"):
        path = write_table(tmp_path / f"e.{suffix}", "events", table)
        with Store.open() as store:
            report = ingest(store, [path], rejects=rejects)
            assert report.files[0].rejected == 1
        (rej,) = _rejects(rejects)
        assert (rej["row"], rej["field"]) == (4, "status")
        assert rej["record"]["request_id"] == rows[3]["request_id"]


def test_csv_with_bad_number_text_is_rejected(tmp_path):
    path = write_table(tmp_path / "e.csv", "events", event_table(event_rows(3)))
    text = path.read_text().replace(",200,", ',"2OO",', 1)
    path.write_text(text)
    with Store.open() as store:
        f = ingest(store, [path]).files[0]
    assert f.rejected == 1


def test_bad_accounts_and_labels(tmp_path):
    accounts = tmp_path / "a.jsonl"
    write_jsonl(
        accounts,
        [
            {"account_id": "a1", "created_at": "2026-01-01T00:00:00Z", "verification": "email"},
            {"account_id": "a2", "created_at": "yesterday"},
            {"account_id": "a3", "created_at": "2026-01-01T00:00:00Z", "verification": "dna"},
        ],
    )
    labels = tmp_path / "l.jsonl"
    write_jsonl(labels, [{"account_id": "a1", "label": "evil"}, {"account_id": "a2"}])
    rejects = tmp_path / "r.jsonl"
    with Store.open() as store:
        report = ingest(store, [], accounts=[accounts], labels=[labels], rejects=rejects)
    assert [(f.accepted, f.rejected) for f in report.files] == [(1, 2), (0, 2)]
    fields = sorted(r["field"] for r in _rejects(rejects))
    assert fields == ["created_at", "label", "label", "verification"]


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    path = write_table(tmp_path / "e.jsonl.gz", "events", event_table(event_rows(200)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with Store.open() as store, pytest.raises(InputFileError, match="truncated gzip") as err:
        ingest(store, [path])
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.jsonl.gz", b'{"request_id": "x"}\n', "not a gzip file"),
        ("e.parquet", b'{"request_id": "x"}\n', "not a readable Parquet file"),
        ("e.txt", b"x", "cannot tell the format"),
    ],
)
def test_file_not_in_the_claimed_format_is_an_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with Store.open() as store, pytest.raises(InputFileError, match=message):
        ingest(store, [path])


def test_binary_file_named_jsonl_is_an_error(tmp_path):
    parquet = write_table(tmp_path / "e.parquet", "events", event_table(event_rows(3)))
    path = tmp_path / "e.jsonl"
    path.write_bytes(parquet.read_bytes())
    with Store.open() as store, pytest.raises(InputFileError, match="not JSON Lines"):
        ingest(store, [path])


def test_missing_file_is_an_error_before_anything_loads(tmp_path):
    good = write_table(tmp_path / "e.jsonl", "events", event_table(event_rows(3)))
    with Store.open() as store:
        with pytest.raises(InputFileError, match="no such file"):
            ingest(store, [good, tmp_path / "missing.jsonl"])
        assert store.count("events") == 0


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_missing_required_column_is_a_schema_error(tmp_path, suffix):
    table = event_table(event_rows(3)).drop_columns(["account_id"])
    path = tmp_path / f"e.{suffix}"
    if suffix == "parquet":
        pq.write_table(table, path)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table.drop_columns(["messages", "features", "response_probs"]), path)
    with Store.open() as store, pytest.raises(SchemaError, match="'account_id' missing"):
        ingest(store, [path])


@pytest.mark.parametrize("interrupt", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_mid_file_leaves_the_store_as_before(tmp_path, monkeypatch, interrupt):
    first = write_table(tmp_path / "a.jsonl", "events", event_table(event_rows(5, "a")))
    second = tmp_path / "b.jsonl"
    write_jsonl(second, [*event_rows(300, "b"), "not json"])
    rejects = tmp_path / "r.jsonl"
    monkeypatch.setattr(readers, "_CHUNK_TEXT_BYTES", 4096)
    monkeypatch.setattr(readers, "_OUT_BYTES", 4096)
    real = ingest_module._load_chunk
    calls = {"n": 0}

    def flaky(con, kind, chunk, from_lines):
        calls["n"] += 1
        if chunk.first_src_no > 1 and calls["n"] > 3:
            raise interrupt
        return real(con, kind, chunk, from_lines)

    with Store.open(tmp_path / "s.duckdb") as store:
        ingest(store, [first])
        monkeypatch.setattr(ingest_module, "_load_chunk", flaky)
        with pytest.raises(type(interrupt)):
            ingest(store, [second], rejects=rejects)
        assert calls["n"] > 3
        assert store.count("events") == 5
        monkeypatch.setattr(ingest_module, "_load_chunk", real)
        report = ingest(store, [second], rejects=rejects)
        assert report.files[0].accepted == 300
    assert len(_rejects(rejects)) == 1


@pytest.mark.parametrize("path_taken", ["bulk", "line_by_line"])
def test_killed_process_mid_file_leaves_the_store_as_before(tmp_path, path_taken):
    first = write_table(tmp_path / "a.jsonl", "events", event_table(event_rows(5, "a")))
    second = tmp_path / "b.jsonl"
    # One bad line sends the file down the line-by-line path, which works in chunks.
    tail = ["not json"] if path_taken == "line_by_line" else []
    write_jsonl(second, [*event_rows(400, "b"), *tail])
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        ingest(store, [first])
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import distillguard.events.ingest as m
        import distillguard.events.readers as r
        from distillguard.store import Store
        r._CHUNK_TEXT_BYTES = r._OUT_BYTES = 8192
        real_chunk, real_dedupe = m._load_chunk, m._dedupe_all
        seen = []
        def dying_chunk(con, kind, chunk, from_lines):
            out = real_chunk(con, kind, chunk, from_lines)
            seen.append(out)
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        def dying_dedupe(con, kind, last_rowid):
            os.kill(os.getpid(), signal.SIGKILL)
        m._load_chunk, m._dedupe_all = dying_chunk, dying_dedupe
        with Store.open({str(db)!r}) as store:
            m.ingest(store, [Path({str(second)!r})])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with Store.open(db) as store:
        assert store.count("events") == 5
        assert ingest(store, [second]).files[0].accepted == 400


def test_gzip_with_several_members_is_read_whole(tmp_path):
    a = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in event_rows(3, "a")))
    b = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in event_rows(3, "b")))
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(a + b)
    with Store.open() as store:
        assert ingest(store, [path]).files[0].accepted == 6


def test_windows_line_endings_and_blank_lines(tmp_path):
    path = tmp_path / "e.jsonl"
    body = "\r\n".join(json.dumps(r) for r in event_rows(3)) + "\r\n\r\n"
    path.write_bytes(body.encode())
    with Store.open() as store:
        f = ingest(store, [path]).files[0]
    assert (f.records, f.accepted) == (3, 3)


def test_progress_callback_sees_every_byte(tmp_path, monkeypatch):
    path = write_table(tmp_path / "e.jsonl.gz", "events", event_table(event_rows(50)))
    seen: list[int] = []
    with Store.open() as store:
        ingest_module.ingest_file(store, path, "events", progress=seen.append)
    assert sum(seen) == os.path.getsize(path)


def test_line_with_broken_utf8_is_rejected_alone(tmp_path):
    rows = event_rows(3)
    lines = [json.dumps(r).encode() for r in rows]
    lines[1] = lines[1].replace(b"m-1", b"m-\xff\xfe")
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "r.jsonl"
    with Store.open() as store:
        f = ingest(store, [path], rejects=rejects).files[0]
    assert (f.accepted, f.rejected) == (2, 1)
    (entry,) = _rejects(rejects)
    assert (entry["line"], entry["reason"]) == (2, "not valid UTF-8 text")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(st.text(max_size=40), min_size=3, max_size=3),
    suffix=st.sampled_from(FORMATS),
)
@example(texts=["", "", ""], suffix="csv")
def test_any_text_survives_write_then_ingest(tmp_path, texts, suffix):
    rows = event_rows(3)
    rows[0]["messages"][1]["content"] = texts[0]
    rows[1]["prompt"] = texts[1] or "x"
    rows[0]["response_text"] = texts[2]
    path = write_table(tmp_path / f"h.{suffix}", "events", event_table(rows))
    with Store.open() as store:
        assert ingest(store, [path]).files[0].accepted == 3
        stored = _stored_events(store)
    assert stored[rows[0]["request_id"]]["messages"][1]["content"] == texts[0]
    assert stored[rows[1]["request_id"]]["prompt"] == (texts[1] or "x")
    assert stored[rows[0]["request_id"]]["response_text"] == texts[2]


def test_progress_bar_path_loads_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "_PROGRESS_MIN_BYTES", 0)
    events = write_table(tmp_path / "e.jsonl.gz", "events", event_table(event_rows(20)))
    parquet = write_table(tmp_path / "e2.parquet", "events", event_table(event_rows(5, "p")))
    with Store.open() as store:
        report = ingest(store, [events, parquet], progress=True)
        assert store.count("events") == 25
    assert report.accepted == 25


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz"])
def test_bulk_and_line_by_line_paths_store_the_same(tmp_path, monkeypatch, suffix):
    rows = event_rows(40)
    rows.append(dict(rows[3]))  # a repeated key within the file
    path = tmp_path / f"e.{suffix}"
    write_table(path, "events", event_table(rows))
    with Store.open() as store:
        bulk = ingest(store, [path]).files[0]
        bulk_rows = _stored_events(store)
    monkeypatch.setattr(ingest_module, "_try_fast_jsonl", lambda *a, **k: None)
    with Store.open() as store:
        careful = ingest(store, [path]).files[0]
        careful_rows = _stored_events(store)
    assert (bulk.records, bulk.accepted, bulk.duplicate) == (41, 40, 1)
    assert (careful.records, careful.accepted, careful.duplicate) == (41, 40, 1)
    assert bulk_rows == careful_rows


def test_bulk_path_counts_keys_already_stored(tmp_path):
    rows = event_rows(10)
    first = write_table(tmp_path / "a.jsonl.gz", "events", event_table(rows[:6]))
    second = write_table(tmp_path / "b.jsonl.gz", "events", event_table(rows[3:]))
    with Store.open() as store:
        report = ingest(store, [first, second])
        assert store.count("events") == 10
    assert [(f.accepted, f.duplicate) for f in report.files] == [(6, 0), (4, 3)]
