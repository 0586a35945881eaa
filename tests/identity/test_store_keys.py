from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from distillguard.errors import AuthenticationError, IdentityError, StoreError
from distillguard.events.records import Verification
from distillguard.identity import TIER_QUOTAS, IdentityStore, ServerSecret
from tests.identity.conftest import (
    PG_ADMIN_URL,
    Clock,
    Enrolled,
    enrol_totp,
    fast_settings,
    next_code,
)


@pytest.fixture
def alice(store: IdentityStore, clock: Clock) -> Enrolled:
    store.create_account("alice", email="alice@corp.example", org_id="corp")
    return enrol_totp(store, clock, "alice")


def test_create_key_needs_mfa(store: IdentityStore, alice: Enrolled) -> None:
    with pytest.raises(AuthenticationError, match="second factor is required"):
        store.create_key("alice", mfa=None)
    with pytest.raises(AuthenticationError, match="unknown MFA session"):
        store.create_key("alice", mfa="not-a-session")


def test_key_lifecycle_authenticates_and_lists_last_use(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    new = store.create_key("alice", mfa=alice.confirmation.session, scopes=["chat.completions"])
    assert new.raw_key.startswith("dg_") and new.info.key_id in new.raw_key
    principal = store.authenticate_key(new.raw_key)
    assert principal.account_id == "alice"
    assert principal.org_id == "corp"
    assert principal.tier is Verification.NONE
    assert principal.quota == TIER_QUOTAS[Verification.NONE]
    assert principal.scopes == frozenset({"chat.completions"})
    assert principal.allows("chat.completions") and not principal.allows("predict")
    listed = store.list_keys("alice")
    assert [k.key_id for k in listed] == [new.info.key_id]
    assert listed[0].last_used_at == clock.now
    assert "dg_" not in repr(new) and new.raw_key not in repr(listed)


def test_revoked_key_stops_at_once(store: IdentityStore, alice: Enrolled) -> None:
    new = store.create_key("alice", mfa=alice.confirmation.session)
    store.authenticate_key(new.raw_key)
    store.revoke_key(new.info.key_id, reason="leaked")
    with pytest.raises(AuthenticationError, match="revoked") as err:
        store.authenticate_key(new.raw_key)
    assert new.raw_key not in str(err.value)


def test_expired_key_refused(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    new = store.create_key("alice", mfa=alice.confirmation.session, expires_in_s=3600)
    store.authenticate_key(new.raw_key)
    clock.advance(3601)
    with pytest.raises(AuthenticationError, match="expired"):
        store.authenticate_key(new.raw_key)
    assert store.list_keys("alice")[0].status(clock.now) == "expired"


def test_forged_and_malformed_keys(store: IdentityStore, alice: Enrolled) -> None:
    new = store.create_key("alice", mfa=alice.confirmation.session)
    prefix, key_id, secret = new.raw_key.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' * len(secret)}"
    with pytest.raises(AuthenticationError, match="unknown API key"):
        store.authenticate_key(forged)
    with pytest.raises(AuthenticationError, match="malformed"):
        store.authenticate_key("sk-not-ours")
    with pytest.raises(AuthenticationError, match="unknown API key"):
        store.authenticate_key(f"dg_{'a' * 12}_{secret}")


def test_rotation_replaces_key(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    old = store.create_key("alice", mfa=alice.confirmation.session, name="ci")
    rotated = store.rotate_key(old.info.key_id, mfa=alice.confirmation.session)
    assert rotated.info.rotated_from == old.info.key_id and rotated.info.name == "ci"
    assert store.authenticate_key(rotated.raw_key).key_id == rotated.info.key_id
    with pytest.raises(AuthenticationError, match="revoked"):
        store.authenticate_key(old.raw_key)
    with pytest.raises(IdentityError, match="revoked"):
        store.rotate_key(old.info.key_id, mfa=alice.confirmation.session)


def test_rotation_grace_period(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    old = store.create_key("alice", mfa=alice.confirmation.session)
    store.rotate_key(old.info.key_id, mfa=alice.confirmation.session, grace_s=60)
    store.authenticate_key(old.raw_key)
    clock.advance(61)
    with pytest.raises(AuthenticationError, match="revoked"):
        store.authenticate_key(old.raw_key)


def test_key_quota_per_tier_and_bad_input(store: IdentityStore, alice: Enrolled) -> None:
    session = alice.confirmation.session
    store.create_key("alice", mfa=session)
    with pytest.raises(IdentityError, match="most its 'none' tier allows"):
        store.create_key("alice", mfa=session)
    with pytest.raises(IdentityError, match="unknown scope"):
        store.create_key("alice", mfa=session, scopes=["everything"])
    with pytest.raises(IdentityError, match="in the future"):
        store.create_key("alice", mfa=session, expires_in_s=-5)
    with pytest.raises(IdentityError, match="unknown account"):
        store.list_keys("nobody")
    with pytest.raises(IdentityError, match="unknown API key"):
        store.revoke_key("nope")


def test_mfa_session_of_other_user_cannot_create_key(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    store.create_account("mallory")
    mallory = enrol_totp(store, clock, "mallory")
    with pytest.raises(IdentityError, match="not an admin"):
        store.create_key("alice", mfa=mallory.confirmation.session)


def test_admin_mfa_creates_key_for_user(
    store: IdentityStore, alice: Enrolled, admin: Enrolled
) -> None:
    new = store.create_key("alice", mfa=admin.confirmation.session)
    assert store.authenticate_key(new.raw_key).account_id == "alice"


def test_mfa_session_expires(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    clock.advance(601)
    with pytest.raises(AuthenticationError, match="expired"):
        store.create_key("alice", mfa=alice.confirmation.session)


def test_suspension_blocks_keys(
    store: IdentityStore, alice: Enrolled, admin: Enrolled, clock: Clock
) -> None:
    new = store.create_key("alice", mfa=alice.confirmation.session)
    store.suspend_account("alice", reason="cluster c1")
    with pytest.raises(AuthenticationError, match="suspended"):
        store.authenticate_key(new.raw_key)
    session = store.verify_totp("root", next_code(admin, clock))
    store.reinstate_account("alice", mfa=session)
    assert store.authenticate_key(new.raw_key).account_id == "alice"


def test_raising_tier_and_limits_needs_admin_mfa(
    store: IdentityStore, alice: Enrolled, admin: Enrolled, clock: Clock
) -> None:
    with pytest.raises(AuthenticationError):
        store.set_tier("alice", Verification.DOCUMENT)
    with pytest.raises(IdentityError, match="not an admin"):
        store.set_tier("alice", Verification.DOCUMENT, mfa=alice.confirmation.session)
    info = store.set_tier("alice", Verification.DOCUMENT, mfa=admin.confirmation.session)
    assert info.quota == TIER_QUOTAS[Verification.DOCUMENT]
    key = store.create_key("alice", mfa=alice.confirmation.session)
    assert store.authenticate_key(key.raw_key).tier is Verification.DOCUMENT
    # Lowering is a safety action: no MFA needed, and the gateway sees it at once.
    store.set_tier("alice", Verification.EMAIL, reason="challenge failed")
    assert store.authenticate_key(key.raw_key).quota == TIER_QUOTAS[Verification.EMAIL]
    with pytest.raises(AuthenticationError):
        store.set_limits("alice", requests_per_minute=5000, tokens_per_minute=None, mfa=None)
    store.set_limits(
        "alice", requests_per_minute=5000, tokens_per_minute=None, mfa=admin.confirmation.session
    )
    quota = store.authenticate_key(key.raw_key).quota
    assert quota.requests_per_minute == 5000
    assert quota.tokens_per_minute == TIER_QUOTAS[Verification.EMAIL].tokens_per_minute


def test_second_admin_needs_admin_mfa(store: IdentityStore, admin: Enrolled) -> None:
    with pytest.raises(AuthenticationError):
        store.create_account("root2", admin=True)
    info = store.create_account("root2", admin=True, mfa=admin.confirmation.session)
    assert info.is_admin


def test_account_input_errors(store: IdentityStore) -> None:
    store.create_account("bob", email="bob@example.com", country="de")
    assert store.get_account("bob").country == "DE"
    with pytest.raises(IdentityError, match="already exists"):
        store.create_account("bob")
    with pytest.raises(IdentityError, match="invalid account id"):
        store.create_account("bad id with spaces")
    with pytest.raises(IdentityError, match="not an email"):
        store.create_account("carol", email="carol-at-example")
    with pytest.raises(IdentityError, match="alpha-2"):
        store.create_account("carol", country="Germany")
    with pytest.raises(IdentityError, match="unknown account"):
        store.get_account("zed")
    assert [a.account_id for a in store.list_accounts()] == ["bob"]


def test_timestamps_are_utc(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    info = store.get_account("alice")
    assert info.created_at.utcoffset() == timedelta(0)
    assert info.created_at == clock.now


@pytest.mark.postgres
def test_dropped_connection_is_retried(
    pg_schema_url: str, server_secret: ServerSecret, clock: Clock
) -> None:
    with IdentityStore.open(
        pg_schema_url, settings=fast_settings(), secret=server_secret, clock=clock
    ) as store:
        store.create_account("pat")
        enrolled = enrol_totp(store, clock, "pat")
        key = store.create_key("pat", mfa=enrolled.confirmation.session)
        store.authenticate_key(key.raw_key)
        with store._read_engine.connect() as conn:  # the pool the key check uses
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        admin = create_engine(PG_ADMIN_URL)
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        assert store.authenticate_key(key.raw_key).account_id == "pat"


def test_database_down_is_a_store_error(server_secret: ServerSecret) -> None:
    down = create_engine("sqlite:////nonexistent-dir/identity.sqlite")
    store = IdentityStore(down, server_secret, fast_settings().identity)
    raw = "dg_abcdefghjkmn_" + "A" * 43
    with pytest.raises(StoreError, match="identity database unavailable") as err:
        store.authenticate_key(raw)
    assert raw not in str(err.value)
    down.dispose()


def test_last_use_written_in_background(
    store: IdentityStore, alice: Enrolled, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from distillguard.identity import store_keys

    new = store.create_key("alice", mfa=alice.confirmation.session)
    monkeypatch.setattr(store_keys, "_LAST_USED_FLUSH_S", 0.0)
    store.authenticate_key(new.raw_key)
    deadline = time.monotonic() + 10
    written = None
    while written is None and time.monotonic() < deadline:
        with store.engine.connect() as conn:
            written = conn.execute(text("SELECT last_used_at FROM api_keys")).scalar()
        time.sleep(0.05)
    assert written is not None
