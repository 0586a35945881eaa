"""The admin audit log's hash chain catches edited, forged, deleted and truncated entries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from distillguard.identity import IdentityStore, ServerSecret
from distillguard.identity.audit_log import entry_hash
from tests.identity.conftest import Clock, fast_settings


@pytest.fixture
def logged(store: IdentityStore, clock: Clock) -> IdentityStore:
    for name in ("a1", "a2", "a3", "a4"):
        clock.advance(1)
        store.create_account(name)
    store.suspend_account("a2", reason="test")
    return store


def _exec(store: IdentityStore, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_intact_chain_verifies(logged: IdentityStore) -> None:
    report = logged.verify_audit_log()
    assert report.ok and report.first_break is None
    assert report.entries == report.head_seq == 5
    assert [e.action for e in logged.audit_entries(limit=2)] == [
        "account.create",
        "account.suspend",
    ]


def test_edited_entry_named(logged: IdentityStore) -> None:
    _exec(logged, "UPDATE admin_audit_log SET target = 'a9' WHERE seq = 3")
    report = logged.verify_audit_log()
    assert not report.ok and report.first_break is not None
    assert report.first_break.seq == 3 and "edited" in report.first_break.reason


def test_deleted_entry_named(logged: IdentityStore) -> None:
    _exec(logged, "DELETE FROM admin_audit_log WHERE seq = 2")
    report = logged.verify_audit_log()
    assert report.first_break is not None
    assert report.first_break.seq == 2 and "deleted" in report.first_break.reason


def test_truncated_tail_detected(logged: IdentityStore) -> None:
    _exec(logged, "DELETE FROM admin_audit_log WHERE seq = 5")
    report = logged.verify_audit_log()
    assert report.first_break is not None
    assert report.first_break.seq == 5 and "truncated" in report.first_break.reason


def test_forged_entry_without_secret_detected(logged: IdentityStore, clock: Clock) -> None:
    # The forger rewrites entry 4 and recomputes its hash, but with a key of their own.
    row = {
        "seq": 4,
        "ts": clock.now,
        "actor": "root",
        "action": "account.set_tier",
        "target": "a3",
        "details": '{"to":"organization"}',
    }
    with logged.engine.connect() as conn:
        prev = conn.execute(text("SELECT entry_hash FROM admin_audit_log WHERE seq = 3")).scalar()
    forged = entry_hash(ServerSecret(b"f" * 40), prev_hash=str(prev), **row)  # type: ignore[arg-type]
    _exec(
        logged,
        "UPDATE admin_audit_log SET actor=:actor, action=:action, target=:target, "
        "details=:details, entry_hash=:h WHERE seq = 4",
        h=forged,
        **{k: v for k, v in row.items() if k not in ("seq", "ts")},
    )
    report = logged.verify_audit_log()
    assert report.first_break is not None and report.first_break.seq == 4


def test_appended_forgery_detected(logged: IdentityStore, clock: Clock) -> None:
    _exec(
        logged,
        "INSERT INTO admin_audit_log (seq, ts, actor, action, target, details, prev_hash, "
        "entry_hash) SELECT 6, ts, actor, 'key.create', target, details, entry_hash, entry_hash "
        "FROM admin_audit_log WHERE seq = 5",
    )
    report = logged.verify_audit_log()
    assert report.first_break is not None and report.first_break.seq == 6


def test_chain_survives_reopen(db_url: str, server_secret: ServerSecret, clock: Clock) -> None:
    with IdentityStore.open(
        db_url, settings=fast_settings(), secret=server_secret, clock=clock
    ) as st:
        st.create_account("x1")
    with IdentityStore.open(
        db_url, settings=fast_settings(), secret=server_secret, clock=clock
    ) as st:
        st.create_account("x2")
        report = st.verify_audit_log()
    assert report.ok and report.entries == 2
