"""The tamper-evident admin audit log: every entry is chained by a keyed hash to the one before.

``entry_hash = HMAC(audit key, prev_hash | seq | ts | actor | action | target | details)``.
Editing an entry breaks its own hash; deleting one leaves a gap in ``seq`` and breaks the next
entry's ``prev_hash``; inserting a forged one needs the server secret to compute a hash that
fits. Truncating the tail is caught by comparing against the head row, and, for an attacker
who can rewrite the head too, by comparing ``head`` with a value recorded elsewhere (print it
with ``distillguard accounts audit-log verify`` and keep it off the database host).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson

from distillguard.identity.secret import ServerSecret

__all__ = [
    "GENESIS_HASH",
    "AuditBreak",
    "AuditLogEntry",
    "ChainReport",
    "canonical_details",
    "entry_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_PURPOSE = "audit-chain"


@dataclass(frozen=True, slots=True)
class AuditLogEntry:
    """One admin action as stored. ``details`` is canonical JSON (sorted keys) without secrets."""

    seq: int
    ts: datetime
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class AuditBreak:
    """The first place the chain does not check out."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """``ok`` when every entry checks out; ``head`` is the last good hash, to record offline."""

    ok: bool
    entries: int
    head_seq: int
    head: str
    first_break: AuditBreak | None


def canonical_details(details: dict[str, object]) -> str:
    return orjson.dumps(details, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def entry_hash(
    secret: ServerSecret,
    *,
    prev_hash: str,
    seq: int,
    ts: datetime,
    actor: str,
    action: str,
    target: str,
    details: str,
) -> str:
    payload = orjson.dumps(
        [prev_hash, seq, ts.isoformat(timespec="microseconds"), actor, action, target, details]
    )
    return secret.keyed_hash(_PURPOSE, payload)


def verify_chain(
    secret: ServerSecret, entries: Iterable[AuditLogEntry], head: tuple[int, str] | None
) -> ChainReport:
    """Walk ``entries`` in ``seq`` order and name the first one that does not check out.

    ``head`` is the stored (seq, hash) of the last entry; ``None`` when the log is empty.
    """
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            reason = (
                f"entry {expected_seq} is missing (next present is {entry.seq}): deleted"
                if entry.seq > expected_seq
                else f"entry {entry.seq} is out of order or duplicated"
            )
            return ChainReport(
                False, count, expected_seq - 1, prev, AuditBreak(expected_seq, reason)
            )
        if not hmac.compare_digest(entry.prev_hash, prev):
            return ChainReport(
                False,
                count,
                entry.seq - 1,
                prev,
                AuditBreak(entry.seq, "prev_hash does not match the previous entry"),
            )
        recomputed = entry_hash(
            secret,
            prev_hash=entry.prev_hash,
            seq=entry.seq,
            ts=entry.ts,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            details=entry.details,
        )
        if not hmac.compare_digest(recomputed, entry.entry_hash):
            return ChainReport(
                False,
                count,
                entry.seq - 1,
                prev,
                AuditBreak(entry.seq, "content does not match its hash: edited or forged"),
            )
        prev = entry.entry_hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if head is None:
        if last_seq != 0:
            return ChainReport(
                False, count, last_seq, prev, AuditBreak(1, "entries exist but the head is missing")
            )
        return ChainReport(True, count, 0, prev, None)
    head_seq, head_hash = head
    if head_seq > last_seq:
        return ChainReport(
            False,
            count,
            last_seq,
            prev,
            AuditBreak(last_seq + 1, f"entries {last_seq + 1}..{head_seq} are missing: truncated"),
        )
    if head_seq < last_seq or not hmac.compare_digest(head_hash, prev):
        return ChainReport(
            False,
            count,
            last_seq,
            prev,
            AuditBreak(head_seq, "the head does not match the last entry: appended or rewritten"),
        )
    return ChainReport(True, count, last_seq, prev, None)
