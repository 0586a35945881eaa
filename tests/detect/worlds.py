"""Small crafted event logs for the detector tests, built straight into a DuckDB connection
with the store's table layout (see INTERFACES: F's ``events`` and ``accounts`` tables)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np

EVENTS_DDL = """
CREATE TABLE events (
    request_id VARCHAR PRIMARY KEY, ts TIMESTAMPTZ, account_id VARCHAR, api_key_id VARCHAR,
    org_id VARCHAR, endpoint VARCHAR, model VARCHAR, client_ip VARCHAR, asn BIGINT,
    country VARCHAR, user_agent VARCHAR, client_fingerprint VARCHAR,
    messages STRUCT(role VARCHAR, content VARCHAR)[], prompt VARCHAR, features DOUBLE[],
    params JSON, response_text VARCHAR, response_probs DOUBLE[], prompt_tokens BIGINT,
    completion_tokens BIGINT, status BIGINT, latency_ms DOUBLE, action VARCHAR)
"""
ACCOUNTS_DDL = """
CREATE TABLE accounts (
    account_id VARCHAR PRIMARY KEY, created_at TIMESTAMPTZ, org_id VARCHAR,
    email_domain VARCHAR, verification VARCHAR, payment_fingerprint VARCHAR,
    signup_ip VARCHAR, signup_fingerprint VARCHAR, country VARCHAR, plan VARCHAR)
"""
START = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass
class World:
    """Events and accounts being built; ``load()`` writes them into an in-memory DuckDB."""

    events: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(5))

    def account(self, account_id: str, **kw: Any) -> None:
        row = {
            "account_id": account_id,
            "created_at": START - timedelta(days=kw.pop("age_days", 400)),
            "org_id": None,
            "email_domain": "example.com",
            "verification": "phone",
            "payment_fingerprint": f"card-{account_id}",
            "signup_ip": f"10.{len(self.accounts) % 250}.{len(self.accounts) // 250}.9",
            "signup_fingerprint": f"sfp-{account_id}",
            "country": "US",
            "plan": "pay_as_you_go",
        }
        row.update(kw)
        self.accounts.append(row)

    def event(self, account_id: str, t: datetime, **kw: Any) -> None:
        row: dict[str, Any] = {
            "request_id": f"r{len(self.events)}",
            "ts": t,
            "account_id": account_id,
            "endpoint": "chat.completions",
            "model": "atlas-2",
            "client_ip": "198.51.100.7",
            "asn": 64500,
            "country": "US",
            "client_fingerprint": f"fp-{account_id}",
            "prompt_tokens": 60,
            "completion_tokens": 200,
            "status": 200,
            "params": None,
            "messages": None,
            "prompt": None,
            "features": None,
        }
        text = kw.pop("text", None)
        if text is not None:
            row["messages"] = [{"role": "user", "content": text}]
        row.update(kw)
        if isinstance(row["params"], dict):
            row["params"] = json.dumps(row["params"])
        self.events.append(row)

    def load(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        con = con or duckdb.connect()
        con.execute(EVENTS_DDL)
        con.execute(ACCOUNTS_DDL)
        cols = [
            "request_id", "ts", "account_id", "endpoint", "model", "client_ip", "asn",
            "country", "client_fingerprint", "prompt_tokens", "completion_tokens", "status",
            "params", "messages", "prompt", "features",
        ]  # fmt: skip
        if self.events:
            con.executemany(
                f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [[e.get(c) for c in cols] for e in self.events],
            )
        acols = list(self.accounts[0]) if self.accounts else []
        if self.accounts:
            con.executemany(
                f"INSERT INTO accounts ({', '.join(acols)}) VALUES ({', '.join('?' * len(acols))})",
                [[a[c] for c in acols] for a in self.accounts],
            )
        return con


class FakeStore:
    """The one attribute the engine uses of F's Store."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con


def exit_chain_pairs(n: int, fleet: list[int], seed: int = 3) -> list[tuple[int, int]]:
    """Account pairs of a community of ``n`` strangers chained by shared exits (each linked to
    two others at random), with the ``fleet`` rows also linked to each other: how modularity
    merges a fleet behind commercial proxies into one community. Sorted, each pair (low, high)."""
    rng = np.random.default_rng(seed)
    edges: set[tuple[int, int]] = set()
    for a in range(n):
        for b in rng.choice(n, size=2, replace=False).tolist():
            if a != b:
                edges.add((min(a, b), max(a, b)))
    for i, a in enumerate(fleet):
        for b in fleet[i + 1 :]:
            edges.add((a, b))
    return sorted(edges)
