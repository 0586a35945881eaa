from __future__ import annotations

import pytest

from distillguard.errors import AuthenticationError, IdentityError, LockedOutError
from distillguard.identity import IdentityStore, MfaMethod, totp
from tests.identity.conftest import Clock, Enrolled, enrol_totp, next_code


@pytest.fixture
def alice(store: IdentityStore, clock: Clock) -> Enrolled:
    store.create_account("alice", email="alice@example.com", password="correct horse battery")
    return enrol_totp(store, clock, "alice")


def test_enrolment_gives_uri_and_recovery_codes(store: IdentityStore, alice: Enrolled) -> None:
    assert len(alice.confirmation.recovery_codes) == 10
    assert len(set(alice.confirmation.recovery_codes)) == 10
    assert store.get_account("alice").mfa_methods == (MfaMethod.TOTP,)
    assert store.remaining_recovery_codes("alice") == 10


def test_wrong_code_at_confirmation(store: IdentityStore, clock: Clock) -> None:
    store.create_account("bob")
    enrolment = store.enroll_totp("bob")
    seed = totp.seed_from_base32(enrolment.secret_base32)
    wrong = str((int(totp.totp(seed, clock.now.timestamp())) + 1) % 10**6).zfill(6)
    with pytest.raises(AuthenticationError, match="wrong TOTP code"):
        store.confirm_totp("bob", wrong)
    assert store.get_account("bob").mfa_methods == ()
    with pytest.raises(IdentityError, match="no confirmed TOTP"):
        store.verify_totp("bob", wrong)


def test_replayed_totp_code_refused(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    code = next_code(alice, clock)
    store.verify_totp("alice", code)
    with pytest.raises(AuthenticationError, match="already used"):
        store.verify_totp("alice", code)
    # Still inside the ±1 drift window 30 s later: still refused.
    clock.advance(30)
    with pytest.raises(AuthenticationError, match="already used"):
        store.verify_totp("alice", code)
    # The code of the confirmation step itself cannot be replayed either.
    earlier = totp.totp(alice.seed, clock.now.timestamp() - 60)
    with pytest.raises(AuthenticationError):
        store.verify_totp("alice", earlier)


def test_clock_drift_of_one_step_accepted(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    clock.advance(120)
    behind = totp.totp(alice.seed, clock.now.timestamp() - 30)
    assert store.verify_totp("alice", behind).method is MfaMethod.TOTP


def test_brute_force_throttled_then_locked(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    clock.advance(60)
    good = totp.totp(alice.seed, clock.now.timestamp())
    wrong = str((int(good) + 1) % 10**6).zfill(6)
    for _ in range(2):  # free failures
        with pytest.raises(AuthenticationError):
            store.verify_totp("alice", wrong)
    with pytest.raises(AuthenticationError):
        store.verify_totp("alice", wrong)
    # Third failure: the next attempt must wait, even with the right code.
    with pytest.raises(LockedOutError) as throttled:
        store.verify_totp("alice", good)
    assert 0 < throttled.value.retry_after_s <= 1
    for _ in range(2):
        clock.advance(10)
        with pytest.raises(AuthenticationError):
            store.verify_totp("alice", wrong)
    clock.advance(10)
    with pytest.raises(LockedOutError, match="too many failed attempts") as locked:
        store.verify_totp("alice", totp.totp(alice.seed, clock.now.timestamp()))
    assert locked.value.retry_after_s > 800
    # Recovery codes share the lock: switching factor does not buy more guesses.
    with pytest.raises(LockedOutError):
        store.use_recovery_code("alice", alice.confirmation.recovery_codes[0])
    clock.advance(901)
    assert store.verify_totp("alice", totp.totp(alice.seed, clock.now.timestamp()))
    # A success clears the count.
    with pytest.raises(AuthenticationError):
        store.verify_totp("alice", "000000" if good != "000000" else "111111")
    store.verify_totp("alice", next_code(alice, clock))


def test_lockout_is_audited(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    for _ in range(5):
        clock.advance(30)
        with pytest.raises(AuthenticationError):
            store.verify_totp("alice", "000001")
    actions = [e.action for e in store.audit_entries()]
    assert "auth.lockout" in actions


def test_recovery_code_works_once(store: IdentityStore, alice: Enrolled) -> None:
    code = alice.confirmation.recovery_codes[3]
    session = store.use_recovery_code("alice", code.upper().replace("-", " "))
    assert session.method is MfaMethod.RECOVERY_CODE
    assert store.remaining_recovery_codes("alice") == 9
    with pytest.raises(AuthenticationError, match="already used"):
        store.use_recovery_code("alice", code)


def test_regenerate_recovery_codes_invalidates_old(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    with pytest.raises(AuthenticationError):
        store.regenerate_recovery_codes("alice", mfa=None)
    new = store.regenerate_recovery_codes("alice", mfa=alice.confirmation.session)
    assert set(new).isdisjoint(alice.confirmation.recovery_codes)
    with pytest.raises(AuthenticationError):
        store.use_recovery_code("alice", alice.confirmation.recovery_codes[0])
    clock.advance(5)
    assert store.use_recovery_code("alice", new[0])


def test_reenrolment_needs_mfa_and_keeps_old_seed_until_confirmed(
    store: IdentityStore, alice: Enrolled, clock: Clock
) -> None:
    with pytest.raises(AuthenticationError):
        store.enroll_totp("alice")
    enrolment = store.enroll_totp("alice", mfa=alice.confirmation.session)
    store.verify_totp("alice", next_code(alice, clock))  # old seed still valid
    new_seed = totp.seed_from_base32(enrolment.secret_base32)
    clock.advance(30)
    confirmation = store.confirm_totp("alice", totp.totp(new_seed, clock.now.timestamp()))
    assert confirmation.recovery_codes == ()  # the old ones are still unused
    clock.advance(30)
    with pytest.raises(AuthenticationError):
        store.verify_totp("alice", totp.totp(alice.seed, clock.now.timestamp()))


def test_seed_encrypted_at_rest(store: IdentityStore, alice: Enrolled) -> None:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT seed_encrypted FROM totp_factors")).scalar_one()
        hashes = conn.execute(text("SELECT code_hash FROM recovery_codes")).scalars().all()
    assert totp.seed_to_base32(alice.seed) not in stored
    assert alice.seed.hex() not in stored
    assert all(h.startswith("scrypt$") for h in hashes)
    assert not set(alice.confirmation.recovery_codes) & set(hashes)


def test_login_password_then_totp(store: IdentityStore, alice: Enrolled, clock: Clock) -> None:
    session = store.login("alice", "correct horse battery", next_code(alice, clock))
    assert store.check_mfa(session.token, account_id="alice").account_id == "alice"
    with pytest.raises(AuthenticationError, match="wrong account or password"):
        store.login("alice", "wrong password!!", next_code(alice, clock))
    with pytest.raises(AuthenticationError, match="wrong account or password"):
        store.login("nobody-here", "correct horse battery", "123456")
    store.end_mfa_session(session)
    with pytest.raises(AuthenticationError, match="unknown MFA session"):
        store.check_mfa(session.token)


def test_weak_and_reused_passwords(store: IdentityStore, alice: Enrolled) -> None:
    session = alice.confirmation.session
    with pytest.raises(IdentityError, match="weak password: shorter"):
        store.set_password("alice", "short", mfa=session)
    with pytest.raises(IdentityError, match="well-known"):
        store.set_password("alice", "password1234", mfa=session)
    with pytest.raises(IdentityError, match="contains the account id"):
        store.set_password("alice", "alice-is-my-password", mfa=session)
    with pytest.raises(IdentityError, match="used recently"):
        store.set_password("alice", "correct horse battery", mfa=session)
    store.set_password("alice", "a new long passphrase", mfa=session)
    with pytest.raises(IdentityError, match="weak password"):
        store.create_account("dave", password="dave")
