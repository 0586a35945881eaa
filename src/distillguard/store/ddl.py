"""The store's tables, in portable SQL (the same DDL runs on DuckDB and, as views, on Spark).

Bump :data:`SCHEMA_VERSION` on any change here; a store written by another version is refused
with a message rather than read wrongly.

Keys (``events.request_id``, ``accounts.account_id``, ``labels.account_id``) are unique, but
the ingest keeps them so (anti-join on insert, one distinct count per file) rather than a
PRIMARY KEY: DuckDB's key index doubled the cost of a bulk load.
"""

from __future__ import annotations

__all__ = ["DDL", "SCHEMA_VERSION", "TABLES"]

SCHEMA_VERSION = 1

_EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    request_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    account_id VARCHAR NOT NULL,
    api_key_id VARCHAR,
    org_id VARCHAR,
    endpoint VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    client_ip VARCHAR NOT NULL,
    asn BIGINT,
    country VARCHAR,
    user_agent VARCHAR,
    client_fingerprint VARCHAR,
    messages STRUCT(role VARCHAR, content VARCHAR)[],
    prompt VARCHAR,
    features DOUBLE[],
    params JSON,
    response_text VARCHAR,
    response_probs DOUBLE[],
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    status BIGINT NOT NULL,
    latency_ms DOUBLE,
    action VARCHAR
)
"""

_ACCOUNTS = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    org_id VARCHAR,
    email_domain VARCHAR,
    verification VARCHAR,
    payment_fingerprint VARCHAR,
    signup_ip VARCHAR,
    signup_fingerprint VARCHAR,
    country VARCHAR,
    plan VARCHAR
)
"""

_LABELS = """
CREATE TABLE IF NOT EXISTS labels (
    account_id VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    campaign_id VARCHAR,
    kind VARCHAR
)
"""

_META = """
CREATE TABLE IF NOT EXISTS distillguard_schema (
    version INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
)
"""

TABLES = ("events", "accounts", "labels")
DDL = (_META, _EVENTS, _ACCOUNTS, _LABELS)
