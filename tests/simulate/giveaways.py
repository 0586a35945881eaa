"""The giveaway scan: does any single field value separate campaign accounts from customers?

A value used by at least ``min_accounts`` accounts of which at least ``max_share`` are
malicious is a giveaway, unless it is a campaign's own shared infrastructure (listed by the
simulator in ``SimulationSummary.owned``) - genuine coordination evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

_EVENT_COLUMNS = {
    "request_id": "VARCHAR",
    "ts": "VARCHAR",
    "account_id": "VARCHAR",
    "api_key_id": "VARCHAR",
    "org_id": "VARCHAR",
    "endpoint": "VARCHAR",
    "model": "VARCHAR",
    "client_ip": "VARCHAR",
    "asn": "BIGINT",
    "country": "VARCHAR",
    "user_agent": "VARCHAR",
    "client_fingerprint": "VARCHAR",
    "messages": "STRUCT(role VARCHAR, content VARCHAR)[]",
    "prompt": "VARCHAR",
    "features": "DOUBLE[]",
    "params": "JSON",
    "response_text": "VARCHAR",
    "response_probs": "DOUBLE[]",
    "prompt_tokens": "BIGINT",
    "completion_tokens": "BIGINT",
    "status": "BIGINT",
    "latency_ms": "DOUBLE",
    "action": "VARCHAR",
}


def events_sql(path: Path) -> str:
    """A DuckDB table expression reading simulated events with the spec's column types
    (``params`` as JSON whatever keys it holds)."""
    if path.suffix == ".parquet":
        return f"read_parquet('{path}')"
    cols = ", ".join(f"'{k}': '{v}'" for k, v in _EVENT_COLUMNS.items())
    return f"read_json('{path}', format = 'newline_delimited', columns = {{{cols}}})"


def table_sql(path: Path) -> str:
    """Accounts or labels (flat records)."""
    return f"read_json_auto('{path}', sample_size = -1)"


def malicious_user_texts(events_path: Path, labels_path: Path) -> list[str]:
    """The user messages campaign accounts sent in a simulated log."""
    con = duckdb.connect()
    return [
        r[0]
        for r in con.execute(
            "SELECT m.content FROM (SELECT account_id, unnest(messages) m FROM "
            f"{events_sql(events_path)} WHERE messages IS NOT NULL) JOIN "
            f"read_json_auto('{labels_path}') USING (account_id) "
            "WHERE m.role = 'user' AND label = 'malicious'"
        ).fetchall()
    ]


EVENT_FIELDS = (
    "api_key_id",
    "org_id",
    "endpoint",
    "model",
    "client_ip",
    "asn",
    "country",
    "user_agent",
    "client_fingerprint",
    "prompt",
    "status",
    "action",
)
# Token counts and latencies are measurements, not identities: their distribution is the
# behaviour (long reasoning outputs are what harvesting is for), not a value to match.
ACCOUNT_FIELDS = (
    "org_id",
    "email_domain",
    "verification",
    "payment_fingerprint",
    "signup_ip",
    "signup_fingerprint",
    "country",
    "plan",
)


@dataclass(frozen=True)
class Giveaway:
    field: str
    value: str
    accounts: int
    malicious_share: float


def _load(con: duckdb.DuckDBPyConnection, events: Path, accounts: Path, labels: Path) -> None:
    con.execute(f"CREATE TABLE ev AS SELECT * FROM {events_sql(events)}")
    con.execute(f"CREATE TABLE acc AS SELECT * FROM {table_sql(accounts)}")
    con.execute(f"CREATE TABLE lab AS SELECT * FROM {table_sql(labels)}")


def _pair_queries(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SQL selects of (field, value, account_id) for every scanned field."""
    cols = {r[0] for r in con.execute("DESCRIBE ev").fetchall()}
    out = [
        f"SELECT 'events.{f}' AS field, CAST({f} AS VARCHAR) AS value, account_id FROM ev "
        f"WHERE {f} IS NOT NULL"
        for f in EVENT_FIELDS
        if f in cols
    ]
    if "messages" in cols:
        out.append(
            "SELECT 'messages.' || m.role, m.content, account_id FROM "
            "(SELECT account_id, UNNEST(messages) AS m FROM ev WHERE messages IS NOT NULL)"
        )
        out.append(
            "SELECT 'messages.roles', "
            "array_to_string(list_transform(messages, lambda x: x.role), ','), account_id "
            "FROM ev WHERE messages IS NOT NULL"
        )
    if "params" in cols:
        # Every key, every key=value pair, and the whole object of the request parameters.
        keys = (
            "(SELECT account_id, params, UNNEST(json_keys(CAST(params AS JSON))) AS k "
            "FROM ev WHERE params IS NOT NULL)"
        )
        out.append(f"SELECT 'params.key', k, account_id FROM {keys}")
        out.append(
            "SELECT 'params.' || k, CAST(json_extract(CAST(params AS JSON), k) AS VARCHAR), "
            f"account_id FROM {keys}"
        )
        out.append(
            "SELECT 'params', CAST(params AS VARCHAR), account_id FROM ev WHERE params IS NOT NULL"
        )
    out += [
        f"SELECT 'accounts.{f}', CAST({f} AS VARCHAR), account_id FROM acc WHERE {f} IS NOT NULL"
        for f in ACCOUNT_FIELDS
    ]
    return out


def scan(
    events: Path,
    accounts: Path,
    labels: Path,
    owned: Mapping[str, Iterable[str]],
    min_accounts: int = 5,
    max_share: float = 0.9,
) -> list[Giveaway]:
    con = duckdb.connect()
    _load(con, events, accounts, labels)
    pairs = " UNION ".join(_pair_queries(con))
    rows = con.execute(
        f"SELECT field, value, count(*) AS n, avg((lab.label = 'malicious')::INT) AS share "
        f"FROM ({pairs}) JOIN lab USING (account_id) GROUP BY field, value "
        f"HAVING count(*) >= {min_accounts} AND share >= {max_share}"
    ).fetchall()
    allowed = {
        f"{prefix}.{field}": set(values)
        for field, values in owned.items()
        for prefix in ("events", "accounts")
    }
    found = [
        Giveaway(field, value[:80], n, round(share, 3))
        for field, value, n, share in rows
        if value not in allowed.get(field, set())
    ]
    return sorted(found, key=lambda g: (-g.accounts, g.field, g.value))


def id_shapes(events: Path, accounts: Path, labels: Path) -> dict[str, dict[str, set[str]]]:
    """Per id field and label, the set of id shapes (hex digits masked, length kept)."""
    con = duckdb.connect()
    _load(con, events, accounts, labels)
    out: dict[str, dict[str, set[str]]] = {}
    for f in ("request_id", "api_key_id", "account_id", "org_id", "ts"):
        rows = con.execute(
            f"SELECT DISTINCT lab.label, CAST(ev.{f} AS VARCHAR) "
            "FROM ev JOIN lab USING (account_id)"
        ).fetchall()
        for label, value in rows:
            shape = re.sub(r"[0-9a-f]", "h", value) if f != "ts" else re.sub(r"\d", "9", value)
            out.setdefault(f, {}).setdefault(label, set()).add(shape)
    return out
