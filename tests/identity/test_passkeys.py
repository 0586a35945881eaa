"""WebAuthn ceremonies against a software authenticator built here: an EC P-256 key,
"none" attestation and hand-signed assertions, so the ``webauthn`` package's real checks run."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from distillguard.errors import AuthenticationError, LockedOutError
from distillguard.identity import IdentityStore, MfaMethod
from tests.identity.conftest import Clock, Enrolled, enrol_totp

RP_ID = "localhost"
ORIGIN = "http://localhost:8080"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, origin: str = ORIGIN) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = 0
        self.origin = origin

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, options_json: str) -> bytes:
        challenge = json.loads(options_json)["challenge"]
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def register(self, options_json: str) -> str:
        client_data = self._client_data("webauthn.create", options_json)
        auth_data = (
            hashlib.sha256(RP_ID.encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + struct.pack(">I", self.sign_count)
            + bytes(16)  # AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                },
                "clientExtensionResults": {},
            }
        )

    def assert_(self, options_json: str, *, key: ec.EllipticCurvePrivateKey | None = None) -> str:
        self.sign_count += 1
        client_data = self._client_data("webauthn.get", options_json)
        auth_data = (
            hashlib.sha256(RP_ID.encode()).digest()
            + bytes([0x05])
            + struct.pack(">I", self.sign_count)
        )
        signature = (key or self.key).sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                },
                "clientExtensionResults": {},
            }
        )


@pytest.fixture
def registered(store: IdentityStore) -> SoftAuthenticator:
    store.create_account("kim", email="kim@example.com")
    authenticator = SoftAuthenticator()
    challenge_id, options = store.begin_webauthn_registration("kim")
    assert json.loads(options)["rp"]["id"] == RP_ID
    confirmation = store.finish_webauthn_registration(
        "kim", challenge_id, authenticator.register(options), name="yubikey"
    )
    assert confirmation.session.method is MfaMethod.WEBAUTHN
    assert len(confirmation.recovery_codes) == 10
    return authenticator


def test_register_then_authenticate(store: IdentityStore, registered: SoftAuthenticator) -> None:
    assert store.get_account("kim").mfa_methods == (MfaMethod.WEBAUTHN,)
    challenge_id, options = store.begin_webauthn_authentication("kim")
    session = store.verify_webauthn("kim", challenge_id, registered.assert_(options))
    assert session.method is MfaMethod.WEBAUTHN
    # The assertion's MFA session is good for privileged operations.
    key = store.create_key("kim", mfa=session)
    assert store.authenticate_key(key.raw_key).account_id == "kim"


def test_assertion_cannot_be_replayed(store: IdentityStore, registered: SoftAuthenticator) -> None:
    challenge_id, options = store.begin_webauthn_authentication("kim")
    response = registered.assert_(options)
    store.verify_webauthn("kim", challenge_id, response)
    with pytest.raises(AuthenticationError, match="already used WebAuthn challenge"):
        store.verify_webauthn("kim", challenge_id, response)
    # Replaying the same signed response against a fresh challenge fails the challenge check.
    fresh_id, _ = store.begin_webauthn_authentication("kim")
    with pytest.raises(AuthenticationError, match="assertion rejected"):
        store.verify_webauthn("kim", fresh_id, response)


def test_wrong_key_and_wrong_origin_rejected(
    store: IdentityStore, registered: SoftAuthenticator, clock: Clock
) -> None:
    challenge_id, options = store.begin_webauthn_authentication("kim")
    impostor = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthenticationError, match="assertion rejected"):
        store.verify_webauthn("kim", challenge_id, registered.assert_(options, key=impostor))
    clock.advance(5)
    registered.origin = "https://evil.example"
    challenge_id, options = store.begin_webauthn_authentication("kim")
    with pytest.raises(AuthenticationError, match="origin"):
        store.verify_webauthn("kim", challenge_id, registered.assert_(options))


def test_failures_lock_out(
    store: IdentityStore, registered: SoftAuthenticator, clock: Clock
) -> None:
    impostor = ec.generate_private_key(ec.SECP256R1())
    for _ in range(5):
        clock.advance(20)
        challenge_id, options = store.begin_webauthn_authentication("kim")
        with pytest.raises(AuthenticationError):
            store.verify_webauthn("kim", challenge_id, registered.assert_(options, key=impostor))
    challenge_id, options = store.begin_webauthn_authentication("kim")
    with pytest.raises(LockedOutError):
        store.verify_webauthn("kim", challenge_id, registered.assert_(options))


def test_expired_challenge(
    store: IdentityStore, registered: SoftAuthenticator, clock: Clock
) -> None:
    challenge_id, options = store.begin_webauthn_authentication("kim")
    clock.advance(301)
    with pytest.raises(AuthenticationError, match="expired"):
        store.verify_webauthn("kim", challenge_id, registered.assert_(options))


def test_adding_a_second_factor_needs_mfa(store: IdentityStore, clock: Clock) -> None:
    store.create_account("lee")
    enrolled: Enrolled = enrol_totp(store, clock, "lee")
    with pytest.raises(AuthenticationError):
        store.begin_webauthn_registration("lee")
    challenge_id, options = store.begin_webauthn_registration(
        "lee", mfa=enrolled.confirmation.session
    )
    confirmation = store.finish_webauthn_registration(
        "lee", challenge_id, SoftAuthenticator().register(options)
    )
    assert confirmation.recovery_codes == ()
    assert set(store.get_account("lee").mfa_methods) == {MfaMethod.TOTP, MfaMethod.WEBAUTHN}


def test_registration_with_wrong_challenge_rejected(store: IdentityStore) -> None:
    store.create_account("max")
    challenge_id, _ = store.begin_webauthn_registration("max")
    _, other_options = store.begin_webauthn_registration("max")
    with pytest.raises(AuthenticationError, match="registration rejected"):
        store.finish_webauthn_registration(
            "max", challenge_id, SoftAuthenticator().register(other_options)
        )
