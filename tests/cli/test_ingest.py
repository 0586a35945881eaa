"""``distillguard ingest`` end to end: the table, the store file, the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from distillguard.cli.app import app
from distillguard.events.writers import write_table
from distillguard.store import Store
from tests.events.samples import account_rows, account_table, event_rows, event_table, write_jsonl


def test_ingest_loads_files_and_prints_counts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = write_table(tmp_path / "events.jsonl.gz", "events", event_table(event_rows(8)))
    accounts = write_table(tmp_path / "accounts.csv", "accounts", account_table(account_rows(3)))
    result = CliRunner().invoke(
        app, ["ingest", "--events", str(events), "--accounts", str(accounts)]
    )
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "duplicate" in result.output
    assert (tmp_path / "distillguard.duckdb").exists()  # the default store, in the cwd
    assert not (tmp_path / "rejects.jsonl").exists()  # nothing rejected, no file
    with Store.open(tmp_path / "distillguard.duckdb") as store:
        assert (store.count("events"), store.count("accounts")) == (8, 3)

    again = CliRunner().invoke(app, ["ingest", "--events", str(events)])
    assert again.exit_code == 0
    with Store.open(tmp_path / "distillguard.duckdb") as store:
        assert store.count("events") == 8


def test_ingest_writes_rejects_where_asked(tmp_path):
    path = tmp_path / "events.jsonl"
    rows = event_rows(3)
    write_jsonl(path, [*rows, {**rows[0], "request_id": "x", "status": "bad"}])
    db, rejects = tmp_path / "s.duckdb", tmp_path / "out" / "rej.jsonl"
    result = CliRunner().invoke(
        app, ["ingest", "-e", str(path), "--db", str(db), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert (entry["line"], entry["field"]) == (4, "status")
    assert str(rejects) in result.output.replace("\n", "")


def test_unreadable_file_is_one_line_error_and_nonzero_exit(tmp_path):
    missing = tmp_path / "nope.jsonl.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillguard.cli",
            "ingest",
            "-e",
            str(missing),
            "--db",
            str(tmp_path / "s.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [f"error: {missing}: no such file"]


def test_ingest_without_files_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["ingest", "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code != 0
