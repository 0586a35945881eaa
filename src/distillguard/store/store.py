"""The embedded store: one DuckDB database, one connection, writes serialised.

DuckDB allows one writing process per file, and a connection must not be used from two threads
at once. The store therefore owns the single connection, and every write goes through
:meth:`Store.transaction`, which holds a lock for the whole transaction: a writer sees either
all of another writer's transaction or none of it. Readers in other threads take their own
:meth:`Store.cursor`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

import duckdb
import structlog

from distillguard.errors import StoreError
from distillguard.store.ddl import DDL, SCHEMA_VERSION

__all__ = ["Store"]

log = structlog.get_logger(__name__)


class Store:
    """The DuckDB store; build it with :meth:`open` and use it as a context manager.

    ``con`` is the connection, for read queries from the thread that opened the store.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path
        self._lock = threading.RLock()
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path | str = ":memory:",
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> Store:
        """Open (creating if needed) the store at ``path``; ``":memory:"`` for a throwaway one.

        Raises :class:`StoreError` when the file is locked by another process, is not a DuckDB
        database, or was written by another schema version.
        """
        where = str(path)
        if where != ":memory:":
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(where)
        except duckdb.Error as exc:
            raise StoreError(_open_error(where, exc)) from exc
        try:
            if memory_limit:
                con.execute("SET memory_limit = ?", [memory_limit])
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            store = cls(con, where)
            store._migrate()
        except BaseException:
            con.close()
            raise
        return store

    def _migrate(self) -> None:
        with self.transaction() as con:
            for statement in DDL:
                con.execute(statement)
            # fetchall, not fetchone: DuckDB keeps a half-read result open and refuses the
            # connection's next relation query until it is drained.
            found = con.execute("SELECT max(version) FROM distillguard_schema").fetchall()[0][0]
            if found is None:
                con.execute(
                    "INSERT INTO distillguard_schema VALUES (?, current_timestamp)",
                    [SCHEMA_VERSION],
                ).fetchall()
            elif found != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store schema version {found}, this distillguard reads "
                    f"version {SCHEMA_VERSION}; re-ingest into a new --db file"
                )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: committed when the block ends, rolled back on any exception
        (including KeyboardInterrupt), so a failed write leaves the store as it was."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A separate read cursor on the same database, for use in another thread."""
        return self.con.cursor()

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        if table not in ("events", "accounts", "labels"):
            raise StoreError(f"unknown table {table!r}; use events, accounts or labels")
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _open_error(where: str, exc: duckdb.Error) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return f"{where}: the store is in use by another process; stop it or use another --db"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{where}: cannot open the DuckDB store ({first})"
