"""The analyst's known-good list: accounts or whole organisations cleared by a person.

A false accusation is corrected once: the entry (who cleared it and why) is honoured by every
later audit (the account is never flagged, its response is ``none``) and listed in the outputs.
The list is a JSONL or CSV file with the columns ``account_id``, ``org_id`` (one of the two is
required), ``who``, ``why`` (both required) and optional ``added_at`` (RFC 3339). The store may
also hold it as a ``known_good`` table with the same columns.

Parsing is pure (text in, entries out); reading the file is the caller's job.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from distillguard.detect.verdicts import KnownGood
from distillguard.errors import SchemaError

__all__ = ["KNOWN_GOOD_COLUMNS", "find_override", "parse_known_good", "rows_to_known_good"]

KNOWN_GOOD_COLUMNS = ("account_id", "org_id", "who", "why", "added_at")


def _clean(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def rows_to_known_good(rows: Iterable[Mapping[str, Any]], source: str) -> tuple[KnownGood, ...]:
    """Validate rows into entries; a bad row is an error naming ``source``, the row and field
    (an override list is short and hand-written: a typo must not silently clear nobody)."""
    out: list[KnownGood] = []
    for line, row in enumerate(rows, 1):
        account_id = _clean(row.get("account_id"))
        org_id = _clean(row.get("org_id"))
        who = _clean(row.get("who"))
        why = _clean(row.get("why"))
        if account_id is None and org_id is None:
            raise SchemaError(f"{source}:{line}: known-good entry needs 'account_id' or 'org_id'")
        for field, value in (("who", who), ("why", why)):
            if value is None:
                raise SchemaError(
                    f"{source}:{line}: known-good entry needs '{field}' (who cleared the "
                    "account and why, so the correction can be reviewed)"
                )
        added_raw = _clean(row.get("added_at"))
        added: datetime | None = None
        if added_raw is not None:
            try:
                added = datetime.fromisoformat(added_raw.replace("Z", "+00:00"))
            except ValueError as exc:
                raise SchemaError(
                    f"{source}:{line}: field 'added_at' is not RFC 3339: {added_raw!r}"
                ) from exc
        out.append(KnownGood(account_id, org_id, str(who), str(why), added))
    return tuple(out)


def parse_known_good(text: str, source: str) -> tuple[KnownGood, ...]:
    """Parse a known-good list from JSONL (``.jsonl``) or CSV (anything else with a header)."""
    if source.endswith(".jsonl") or text.lstrip().startswith("{"):
        rows: list[dict[str, Any]] = []
        for line, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{source}:{line}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise SchemaError(f"{source}:{line}: expected a JSON object")
            rows.append(obj)
        return rows_to_known_good(rows, source)
    return rows_to_known_good(csv.DictReader(io.StringIO(text)), source)


def find_override(
    entries: Sequence[KnownGood], account_id: str, org_id: str | None
) -> KnownGood | None:
    """The first entry that clears this account (by account, then by organisation)."""
    for e in entries:
        if e.account_id is not None and e.account_id == account_id:
            return e
    for e in entries:
        if e.account_id is None and e.matches(account_id, org_id):
            return e
    return None
