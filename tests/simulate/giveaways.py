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
    reader = "read_parquet" if events.suffix == ".parquet" else "read_json_auto"
    con.execute(f"CREATE VIEW ev AS SELECT * FROM {reader}('{events}')")
    con.execute(f"CREATE VIEW acc AS SELECT * FROM read_json_auto('{accounts}')")
    con.execute(f"CREATE VIEW lab AS SELECT * FROM read_json_auto('{labels}')")


def _pairs(con: duckdb.DuckDBPyConnection) -> Iterable[tuple[str, str, str]]:
    """(field, value, account_id) for every scanned field of events and accounts."""
    cols = {r[0] for r in con.execute("DESCRIBE ev").fetchall()}
    for f in EVENT_FIELDS:
        if f in cols:
            yield from con.execute(
                f"SELECT DISTINCT 'events.{f}', CAST({f} AS VARCHAR), account_id FROM ev "
                f"WHERE {f} IS NOT NULL"
            ).fetchall()
    if "messages" in cols:
        yield from con.execute(
            "SELECT DISTINCT 'messages.' || m.role, m.content, account_id FROM "
            "(SELECT account_id, UNNEST(messages) AS m FROM ev WHERE messages IS NOT NULL)"
        ).fetchall()
        yield from con.execute(
            "SELECT DISTINCT 'messages.roles', "
            "array_to_string(list_transform(messages, lambda x: x.role), ','), account_id "
            "FROM ev WHERE messages IS NOT NULL"
        ).fetchall()
    if "params" in cols:
        # Every key, and every key=value pair, of the request parameters.
        yield from con.execute(
            "SELECT DISTINCT 'params.key', k, account_id FROM (SELECT account_id, "
            "UNNEST(json_keys(CAST(params AS JSON))) AS k FROM ev WHERE params IS NOT NULL)"
        ).fetchall()
        yield from con.execute(
            "SELECT DISTINCT 'params.' || k, "
            "CAST(json_extract(CAST(params AS JSON), k) AS VARCHAR), account_id "
            "FROM (SELECT account_id, params, UNNEST(json_keys(CAST(params AS JSON))) AS k "
            "FROM ev WHERE params IS NOT NULL)"
        ).fetchall()
        yield from con.execute(
            "SELECT DISTINCT 'params', CAST(params AS VARCHAR), account_id FROM ev "
            "WHERE params IS NOT NULL"
        ).fetchall()
    for f in ACCOUNT_FIELDS:
        yield from con.execute(
            f"SELECT DISTINCT 'accounts.{f}', CAST({f} AS VARCHAR), account_id FROM acc "
            f"WHERE {f} IS NOT NULL"
        ).fetchall()


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
    bad = {
        r[0] for r in con.execute("SELECT account_id FROM lab WHERE label = 'malicious'").fetchall()
    }
    allowed = {
        f"{prefix}.{field}": set(values)
        for field, values in owned.items()
        for prefix in ("events", "accounts")
    }
    stats: dict[tuple[str, str], set[str]] = {}
    for field, value, account in _pairs(con):
        stats.setdefault((field, value), set()).add(account)
    found = []
    for (field, value), accs in stats.items():
        if len(accs) < min_accounts:
            continue
        share = len(accs & bad) / len(accs)
        if share >= max_share and value not in allowed.get(field, set()):
            found.append(Giveaway(field, value[:80], len(accs), round(share, 3)))
    return sorted(found, key=lambda g: (-g.accounts, g.field))


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
