"""The store: tables, schema version, transactions, one writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from distillguard.errors import StoreError
from distillguard.store import SCHEMA_VERSION, TABLES, Store


def test_open_creates_the_tables_once(tmp_path):
    db = tmp_path / "sub" / "s.duckdb"
    with Store.open(db) as store:
        store.con.execute("INSERT INTO accounts (account_id, created_at) VALUES ('a', now())")
    with Store.open(db) as store:
        assert {t: store.count(t) for t in TABLES} == {"events": 0, "accounts": 1, "labels": 0}
        versions = store.con.sql("SELECT version FROM distillguard_schema").fetchall()
    assert versions == [(SCHEMA_VERSION,)]


def test_transaction_rolls_back_on_error(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(ZeroDivisionError), store.transaction() as con:
            con.execute("INSERT INTO labels VALUES ('a', 'benign', NULL, NULL)")
            raise ZeroDivisionError
        assert store.count("labels") == 0
        with store.transaction() as con:
            con.execute("INSERT INTO labels VALUES ('a', 'benign', NULL, NULL)")
        assert store.count("labels") == 1


def test_store_from_another_schema_version_is_refused(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        store.con.execute("UPDATE distillguard_schema SET version = 999")
    with pytest.raises(StoreError, match="version 999"):
        Store.open(db)


def test_store_locked_by_another_process_is_a_clear_error(tmp_path):
    db = tmp_path / "s.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, duckdb
                con = duckdb.connect({str(db)!r})
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="in use by another process"):
            Store.open(db)
    finally:
        holder.communicate("", timeout=30)


def test_not_a_database_is_a_store_error(tmp_path):
    db = tmp_path / "s.duckdb"
    db.write_text("hello")
    with pytest.raises(StoreError, match="cannot open"):
        Store.open(db)


def test_closed_store_refuses_writes():
    store = Store.open()
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"), store.transaction():
        pass
