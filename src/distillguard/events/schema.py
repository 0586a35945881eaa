"""Column layout of the event-log files as Arrow schemas.

Files hold JSON-compatible values so that every format reads back the same way and the spec
checker accepts them: timestamps are RFC 3339 strings (``2026-11-28T18:00:00.000Z``), and the
open-ended ``params`` object is a JSON string in Parquet and CSV (in JSONL it is an object).
``messages`` and ``features`` are real nested lists in Parquet, JSON strings in CSV.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "ACCOUNT_REQUIRED",
    "ACCOUNT_SCHEMA",
    "EVENT_REQUIRED",
    "EVENT_SCHEMA",
    "LABEL_REQUIRED",
    "LABEL_SCHEMA",
    "MESSAGE_TYPE",
    "VERDICT_SCHEMA",
]

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])

EVENT_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("ts", pa.string()),
        ("account_id", pa.string()),
        ("api_key_id", pa.string()),
        ("org_id", pa.string()),
        ("endpoint", pa.string()),
        ("model", pa.string()),
        ("client_ip", pa.string()),
        ("asn", pa.int64()),
        ("country", pa.string()),
        ("user_agent", pa.string()),
        ("client_fingerprint", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("prompt", pa.string()),
        ("features", pa.list_(pa.float64())),
        ("params", pa.string()),
        ("response_text", pa.string()),
        ("response_probs", pa.list_(pa.float64())),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("status", pa.int64()),
        ("latency_ms", pa.float64()),
        ("action", pa.string()),
    ]
)
EVENT_REQUIRED = ("request_id", "ts", "account_id", "endpoint", "model", "client_ip", "status")

ACCOUNT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("created_at", pa.string()),
        ("org_id", pa.string()),
        ("email_domain", pa.string()),
        ("verification", pa.string()),
        ("payment_fingerprint", pa.string()),
        ("signup_ip", pa.string()),
        ("signup_fingerprint", pa.string()),
        ("country", pa.string()),
        ("plan", pa.string()),
    ]
)
ACCOUNT_REQUIRED = ("account_id", "created_at")

LABEL_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("label", pa.string()),
        ("campaign_id", pa.string()),
        ("kind", pa.string()),
    ]
)
LABEL_REQUIRED = ("account_id", "label")

VERDICT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("score", pa.float64()),
        ("flagged", pa.bool_()),
        ("cluster_id", pa.string()),
        ("reasons", pa.list_(pa.string())),
        ("first_flagged_at", pa.string()),
    ]
)
