"""WebAuthn (passkeys, security keys) as a second factor, via the ``webauthn`` package.

Only the ceremony maths lives here; the store keeps challenges (single use, short expiry) and
credentials (public key and signature counter). Options go to the browser as JSON; the browser's
``navigator.credentials.create()/get()`` result comes back as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from distillguard.errors import AuthenticationError

__all__ = [
    "RelyingParty",
    "VerifiedCredential",
    "authentication_options",
    "credential_id_of",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]

_ERRORS = (
    InvalidRegistrationResponse,
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidCBORData,
    ValueError,
    KeyError,
)


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Our WebAuthn identity: ``rp_id`` is the console's domain, ``origin`` its full origin."""

    rp_id: str
    name: str
    origin: str


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    credential_id: str
    public_key: bytes
    sign_count: int


def registration_options(
    rp: RelyingParty,
    *,
    account_id: str,
    display_name: str,
    challenge: bytes,
    existing: Sequence[str],
) -> str:
    options = webauthn.generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_id=account_id.encode("utf-8"),
        user_name=account_id,
        user_display_name=display_name,
        challenge=challenge,
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in existing
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            user_verification=UserVerificationRequirement.PREFERRED
        ),
    )
    return webauthn.options_to_json(options)


def verify_registration(
    rp: RelyingParty, *, response_json: str, challenge: bytes
) -> VerifiedCredential:
    try:
        verified = webauthn.verify_registration_response(
            credential=response_json,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
        )
    except _ERRORS as exc:
        raise AuthenticationError(f"WebAuthn registration rejected: {exc}") from exc
    return VerifiedCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def authentication_options(rp: RelyingParty, *, challenge: bytes, allowed: Sequence[str]) -> str:
    options = webauthn.generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in allowed
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return webauthn.options_to_json(options)


def verify_authentication(
    rp: RelyingParty,
    *,
    response_json: str,
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
) -> int:
    """Check an assertion; returns the authenticator's new signature counter. A counter that
    did not grow (for authenticators that keep one) signals a cloned key and is refused."""
    try:
        verified = webauthn.verify_authentication_response(
            credential=response_json,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
        )
    except _ERRORS as exc:
        raise AuthenticationError(f"WebAuthn assertion rejected: {exc}") from exc
    return int(verified.new_sign_count)


def credential_id_of(response_json: str) -> str:
    """The credential id a browser response names (to find the stored public key)."""
    import orjson

    try:
        data = orjson.loads(response_json)
        return str(data["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise AuthenticationError("WebAuthn response is not a credential JSON object") from exc
