from __future__ import annotations

import re
import secrets

import pytest

from distillguard.errors import AuthenticationError, IdentityError, LockedOutError
from distillguard.events.records import Verification
from distillguard.identity import (
    TIER_QUOTAS,
    IdentityStore,
    KycSession,
    KycVerifier,
    Verifier,
)
from tests.identity.conftest import Clock


def _code(store: IdentityStore, account_id: str) -> str:
    match = re.search(r"\b(\d{6})\b", store.outbox(account_id)[-1].body)
    assert match is not None
    return match.group(1)


class FakeKyc:
    """A document-check provider double: it approves the result token it handed out."""

    name = "acme-kyc"

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def start(self, account_id: str, tier: Verification) -> KycSession:
        reference = f"ref-{account_id}-{tier}"
        self.tokens[reference] = secrets.token_hex(8)
        return KycSession(reference=reference, url="https://kyc.example/session")

    def verified(self, reference: str, response: str) -> bool:
        return self.tokens.get(reference) == response


@pytest.fixture
def bob(store: IdentityStore) -> str:
    store.create_account("bob", email="bob@example.com")
    return "bob"


def test_email_step_up_raises_tier_and_quota(store: IdentityStore, bob: str) -> None:
    challenge = store.start_step_up(bob)
    assert challenge.target_tier is Verification.EMAIL
    assert challenge.destination_hint == "b***@example.com"
    info = store.complete_step_up(bob, _code(store, bob))
    assert info.tier is Verification.EMAIL
    assert store.quota_for(bob) == TIER_QUOTAS[Verification.EMAIL]


def test_code_hashed_at_rest(store: IdentityStore, bob: str) -> None:
    from sqlalchemy import text

    store.start_step_up(bob)
    code = _code(store, bob)
    with store.engine.connect() as conn:
        state = conn.execute(text("SELECT state FROM step_up_challenges")).scalar_one()
    assert code not in state and len(state) == 64


def test_wrong_code_attempt_limit(store: IdentityStore, bob: str, clock: Clock) -> None:
    store.start_step_up(bob)
    good = _code(store, bob)
    wrong = str((int(good) + 1) % 10**6).zfill(6)
    with pytest.raises(AuthenticationError, match="4 attempts left"):
        store.complete_step_up(bob, wrong)
    for _ in range(4):
        clock.advance(20)
        with pytest.raises(AuthenticationError):
            store.complete_step_up(bob, wrong)
    clock.advance(20)
    with pytest.raises((IdentityError, LockedOutError)):
        store.complete_step_up(bob, good)
    assert store.get_account(bob).tier is Verification.NONE


def test_expired_code(store: IdentityStore, bob: str, clock: Clock) -> None:
    store.start_step_up(bob)
    code = _code(store, bob)
    clock.advance(601)
    with pytest.raises(IdentityError, match="expired"):
        store.complete_step_up(bob, code)


def test_new_challenge_replaces_old(store: IdentityStore, bob: str) -> None:
    store.start_step_up(bob)
    first = _code(store, bob)
    store.start_step_up(bob)
    second = _code(store, bob)
    if first != second:
        with pytest.raises(AuthenticationError):
            store.complete_step_up(bob, first)
    assert store.complete_step_up(bob, second).tier is Verification.EMAIL
    with pytest.raises(IdentityError, match="no pending step-up"):
        store.complete_step_up(bob, second)


def test_phone_needs_number_and_document_needs_provider(store: IdentityStore, bob: str) -> None:
    store.start_step_up(bob)
    store.complete_step_up(bob, _code(store, bob))
    with pytest.raises(IdentityError, match="needs a phone number"):
        store.start_step_up(bob)
    challenge = store.start_step_up(bob, destination="+441234567890")
    assert challenge.destination_hint == "+44*******890"
    assert store.outbox(bob)[-1].channel == "sms"
    assert store.complete_step_up(bob, _code(store, bob)).tier is Verification.PHONE
    with pytest.raises(IdentityError, match="no verifier is configured for the 'document'"):
        store.start_step_up(bob)


def test_external_kyc_provider(store: IdentityStore, bob: str, admin: object) -> None:
    kyc = FakeKyc()
    verifier = KycVerifier(kyc)
    assert isinstance(verifier, Verifier)
    store.register_verifier(Verification.DOCUMENT, verifier)
    store.set_tier(bob, Verification.PHONE, mfa=admin.confirmation.session)  # type: ignore[attr-defined]
    challenge = store.start_step_up(bob)
    assert "kyc.example" in challenge.instructions
    with pytest.raises(AuthenticationError):
        store.complete_step_up(bob, "forged-token")
    token = kyc.tokens[f"ref-{bob}-document"]
    assert store.complete_step_up(bob, token).tier is Verification.DOCUMENT


def test_step_up_errors(store: IdentityStore, bob: str) -> None:
    with pytest.raises(IdentityError, match="unknown account"):
        store.start_step_up("ghost")
    with pytest.raises(IdentityError, match="no pending"):
        store.complete_step_up(bob, "123456")
    store.create_account("noemail")
    with pytest.raises(IdentityError, match="needs an email address"):
        store.start_step_up("noemail")
