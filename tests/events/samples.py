"""Small spec-valid inputs shared by the events, store and CLI tests."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from distillguard.events.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA, LABEL_SCHEMA


def event_rows(n: int = 6, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` valid events cycling through chat, completions, predict and embeddings."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 4
        row: dict[str, Any] = {
            "request_id": f"{prefix}-{i:04d}",
            "ts": f"2026-11-28T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "account_id": f"acct-{i % 3}",
            "endpoint": ("chat.completions", "completions", "predict", "embeddings")[kind],
            "model": "m-1",
            "client_ip": f"203.0.113.{i % 250}",
            "status": 200 if i % 5 else 429,
        }
        if kind == 0:
            row["messages"] = [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f'Question {i}: "quotes", ünïcödé, tab\there'},
            ]
            row["params"] = {"temperature": 0.7, "max_tokens": 64, "stream": False}
            row["response_text"] = f"Answer {i}\nline two"
            row["prompt_tokens"] = 10 + i
            row["completion_tokens"] = 20 + i
            row["asn"] = 64500 + i
            row["country"] = "DE"
        elif kind == 1:
            row["prompt"] = f"Complete this {i}"
            row["api_key_id"] = f"key-{i}"
            row["latency_ms"] = 12.5 + i
        elif kind == 2:
            row["features"] = [0.5, -1.25, float(i)]
            row["response_probs"] = [0.25, 0.75]
            row["org_id"] = "org-1"
        else:
            row["user_agent"] = "sdk/1.0"
            row["client_fingerprint"] = "fp-abc"
            row["action"] = "allow"
        rows.append(row)
    return rows


def event_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as dicts (params as an object) to an Arrow table in EVENT_SCHEMA."""
    prepared = [
        {**r, "params": json.dumps(r["params"]) if r.get("params") is not None else None}
        for r in rows
    ]
    return pa.Table.from_pylist(prepared, schema=EVENT_SCHEMA)


def account_rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "account_id": f"acct-{i}",
            "created_at": f"2026-11-0{i + 1}T08:00:00+02:00",
            "verification": ("none", "email", "phone")[i % 3],
            "plan": "free",
            **({"email_domain": "example.com"} if i % 2 else {}),
        }
        for i in range(n)
    ]


def account_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ACCOUNT_SCHEMA)


def label_rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "account_id": f"acct-{i}",
            "label": "malicious" if i == 0 else "benign",
            "campaign_id": "camp-1" if i == 0 else None,
            "kind": "distillation" if i == 0 else "developer",
        }
        for i in range(n)
    ]


def label_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)


def write_jsonl(path: Any, rows: list[Any]) -> None:
    """Raw JSONL (any dicts or pre-made strings), for bad-input tests."""
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
