"""Every identity flow, attacks included, with logs captured: no secret may appear in them."""

from __future__ import annotations

import logging
import re

import pytest
import structlog
from structlog.testing import capture_logs

from distillguard.errors import DistillguardError
from distillguard.identity import IdentityStore, ServerSecret, totp
from tests.identity.conftest import Clock, enrol_totp, next_code


def test_no_secret_in_logs_or_error_messages(
    store: IdentityStore,
    clock: Clock,
    server_secret: ServerSecret,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    password = "an unusual passphrase 99"

    def attempt(fn: object, *args: object, **kwargs: object) -> None:
        try:
            fn(*args, **kwargs)  # type: ignore[operator]
        except DistillguardError as exc:
            errors.append(str(exc))

    with capture_logs() as events:
        store.create_account("ann", email="ann@example.com", password=password)
        enrolled = enrol_totp(store, clock, "ann")
        codes = enrolled.confirmation.recovery_codes
        session = enrolled.confirmation.session
        key = store.create_key("ann", mfa=session)
        store.authenticate_key(key.raw_key)
        rotated = store.rotate_key(key.info.key_id, mfa=session)
        attempt(store.authenticate_key, key.raw_key)
        attempt(store.authenticate_key, key.raw_key[:-1] + ("A" if key.raw_key[-1] != "A" else "B"))
        attempt(store.authenticate_key, "garbage " + rotated.raw_key)
        code = next_code(enrolled, clock)
        store.verify_totp("ann", code)
        attempt(store.verify_totp, "ann", code)  # replay
        for _ in range(6):
            attempt(store.verify_totp, "ann", "000000")
        clock.advance(1000)
        attempt(store.use_recovery_code, "ann", codes[0])
        attempt(store.login, "ann", "wrong " + password, "123456")
        store.start_step_up("ann")
        step_code = re.search(r"\d{6}", store.outbox("ann")[-1].body)
        assert step_code is not None
        attempt(store.complete_step_up, "ann", "999999" if step_code.group(0) != "999999" else "0")
        store.complete_step_up("ann", step_code.group(0))
        attempt(store.set_password, "ann", password, mfa=session)
        store.flush_last_used()

    secrets_ = [
        key.raw_key,
        rotated.raw_key,
        key.raw_key.split("_")[2],
        totp.seed_to_base32(enrolled.seed),
        password,
        session.token,
        server_secret.master.decode(),
        step_code.group(0),
        *codes,
    ]
    logged = repr(events) + caplog.text
    text_out = " ".join(errors)
    assert len(errors) >= 10
    for s in secrets_:
        assert s not in logged, "a secret reached the logs"
        assert s not in text_out, "a secret reached an error message"
    # repr of result objects never shows secrets either.
    assert key.raw_key not in repr(key) and session.token not in repr(session)
    assert any(e.get("event") == "identity.auth_failed" for e in events)
    structlog.reset_defaults()
