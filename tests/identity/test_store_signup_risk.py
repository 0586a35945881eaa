"""The store scores each sign-up at creation and the gateway's principal carries the score."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from distillguard.identity import IdentityStore
from distillguard.identity.signup_risk import score_signups_as_of
from distillguard.identity.store_accounts import SIGNUP_RISK_WINDOW
from distillguard.identity.tables import Account
from tests.identity.conftest import Clock, enrol_totp


def _stored(store: IdentityStore, account_id: str) -> Account:
    with store._tx() as s:
        row = s.get(Account, account_id)
        assert row is not None
        s.expunge(row)
        return row


def _sign_up(store: IdentityStore, clock: Clock, account_id: str, **fields: Any) -> dict[str, Any]:
    store.create_account(account_id, **fields)
    record = {"account_id": account_id, "created_at": clock.now, **fields}
    email = record.pop("email", None)
    record["email_domain"] = email.rsplit("@", 1)[1] if email else None
    return record


def _farm(store: IdentityStore, clock: Clock, n: int = 7) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        clock.advance(120)
        records.append(
            _sign_up(
                store,
                clock,
                f"farm{i}",
                email=f"x{i}@10minutemail.com",
                signup_ip=f"203.0.113.{10 + i}",
                signup_fingerprint=f"dev-farm-{i}",
                country="US",
            )
        )
    return records


def test_burst_from_one_network_with_disposable_mail_is_risky_and_reaches_the_principal(
    store: IdentityStore, clock: Clock
) -> None:
    _farm(store, clock)
    first, last = _stored(store, "farm0"), _stored(store, "farm6")
    # Causal: the first member had no burst behind it when it signed up.
    assert first.signup_risk is not None and first.signup_risk < 0.5
    assert last.signup_risk is not None and last.signup_risk >= 0.5
    assert last.signup_risk_reasons and "\n" in last.signup_risk_reasons
    enrolled = enrol_totp(store, clock, "farm6")
    key = store.create_key("farm6", mfa=enrolled.confirmation.session)
    assert store.authenticate_key(key.raw_key).signup_risk == last.signup_risk


def test_ordinary_signup_scores_low(store: IdentityStore, clock: Clock) -> None:
    _farm(store, clock)
    clock.advance(60)
    store.create_account(
        "dana", email="dana@gmail.com", signup_ip="198.51.100.7", signup_fingerprint="dev-dana"
    )
    risk = _stored(store, "dana").signup_risk
    assert risk is not None and risk < 0.2


def test_stored_scores_match_the_causal_scorer_over_the_window(
    store: IdentityStore, clock: Clock
) -> None:
    records = _farm(store, clock, n=6)
    for i in range(6):
        clock.advance(300)
        # Ordinary customers, two of them sharing a card with each other and one the farm's /24.
        records.append(
            _sign_up(
                store,
                clock,
                f"user{i}",
                email=f"u{i}@newstartup.example",
                signup_ip="203.0.113.200" if i == 0 else f"198.51.100.{i}",
                payment_fingerprint="card-shared" if i < 2 else f"card-{i}",
            )
        )
    expected = score_signups_as_of(records)
    for rec in records:
        stored = _stored(store, rec["account_id"]).signup_risk
        assert stored == pytest.approx(expected[rec["account_id"]].score)


def test_signups_outside_the_window_do_not_count(store: IdentityStore, clock: Clock) -> None:
    store.create_account("old", signup_fingerprint="dev-shared")
    clock.advance(SIGNUP_RISK_WINDOW.total_seconds() + 60)
    store.create_account("late", signup_fingerprint="dev-shared")
    assert _stored(store, "late").signup_risk == 0.0
    clock.advance(3600)
    store.create_account("recent", signup_fingerprint="dev-shared")
    # A device shared within the window counts; the copy from before it did not.
    risk = _stored(store, "recent").signup_risk
    assert risk is not None and risk > 0.0


def test_known_domain_before_the_window_is_not_fresh(store: IdentityStore, clock: Clock) -> None:
    store.create_account("founder", email="f@acme-labs.example")
    clock.advance(SIGNUP_RISK_WINDOW.total_seconds() + timedelta(days=1).total_seconds())
    for i in range(5):
        clock.advance(60)
        store.create_account(f"staff{i}", email=f"s{i}@acme-labs.example")
    reasons = _stored(store, "staff4").signup_risk_reasons or ""
    assert "domain" not in reasons
