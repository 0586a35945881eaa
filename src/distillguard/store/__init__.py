"""store stage: the embedded DuckDB database, its tables and the single writer."""

from distillguard.store.ddl import SCHEMA_VERSION, TABLES
from distillguard.store.store import Store

__all__ = ["SCHEMA_VERSION", "TABLES", "Store"]
