"""One small mixed world per test session, shared by the simulate tests."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from distillguard.simulate.fixtures import WorldPaths, small_world
from tests.conftest import SHARED_DATA
from tests.simulate.giveaways import events_sql, table_sql


@pytest.fixture(scope="session")
def mixed_world(tmp_path_factory: pytest.TempPathFactory) -> WorldPaths:
    data = SHARED_DATA if SHARED_DATA.is_dir() else None
    return small_world(tmp_path_factory.mktemp("mixed"), seed=101, data_dir=data)


@pytest.fixture(scope="session")
def world_db(mixed_world: WorldPaths) -> duckdb.DuckDBPyConnection:
    """The mixed world as DuckDB tables ``ev``, ``acc``, ``lab``."""
    return load_world(mixed_world)


def load_world(paths: WorldPaths) -> duckdb.DuckDBPyConnection:
    """A world's files as DuckDB tables ``ev``, ``acc``, ``lab``."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ev AS SELECT * FROM {events_sql(paths.events)}")
    con.execute(f"CREATE TABLE acc AS SELECT * FROM {table_sql(paths.accounts)}")
    con.execute(f"CREATE TABLE lab AS SELECT * FROM {table_sql(paths.labels)}")
    return con


def text_of(con: duckdb.DuckDBPyConnection, where: str) -> list[str]:
    """User-message (or prompt) texts of the events matching ``where``."""
    rows = con.execute(
        "SELECT coalesce(list_filter(messages, lambda m: m.role = 'user')[1].content, prompt) "
        f"FROM ev JOIN lab USING (account_id) WHERE {where}"
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parents[2].joinpath(*parts)
