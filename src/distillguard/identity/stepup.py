"""Step-up verification: how an account earns the next tier when the gateway answers
``challenge``.

A :class:`Verifier` issues a challenge and later checks the account's response; the store keeps
the pending challenge (with expiry and an attempt limit) and raises the tier when the check
passes, so the account's quotas follow at once. Built in: :class:`CodeVerifier`, a one-time code
sent by email (or SMS) through a :class:`Sender`. External document / company checks plug in
through :class:`KycProvider` wrapped in :class:`KycVerifier`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from distillguard.events.records import Verification
from distillguard.identity.secret import ServerSecret
from distillguard.identity.tables import OutboxMessage

__all__ = [
    "Challenge",
    "CodeVerifier",
    "IssuedChallenge",
    "KycProvider",
    "KycSession",
    "KycVerifier",
    "OutboxSender",
    "OutgoingMessage",
    "Sender",
    "StepUpRequest",
    "Verifier",
    "mask_destination",
]


@dataclass(frozen=True, slots=True)
class StepUpRequest:
    """What a verifier knows about the account it checks. ``destination`` is the address or
    number the code goes to (the account's email by default)."""

    account_id: str
    challenge_id: str
    target_tier: Verification
    destination: str | None


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    """A verifier's answer to ``issue``: ``state`` is kept by the store (never a plain code)."""

    state: str = field(repr=False)
    destination_hint: str | None
    instructions: str


@dataclass(frozen=True, slots=True)
class Challenge:
    """A pending step-up, as handed back to the caller (no secret in it)."""

    challenge_id: str
    account_id: str
    target_tier: Verification
    verifier: str
    destination_hint: str | None
    instructions: str
    expires_at: datetime


@runtime_checkable
class Verifier(Protocol):
    """One tier's check. ``issue`` starts it (sends a code, opens a KYC session); ``check``
    decides on the account's response. Neither may log or return the secret."""

    name: str

    def issue(self, request: StepUpRequest) -> IssuedChallenge: ...

    def check(self, request: StepUpRequest, state: str, response: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    channel: str
    recipient: str
    account_id: str
    subject: str
    body: str = field(repr=False)


class Sender(Protocol):
    """Delivers a message (SMTP, an SMS gateway, …). Must not log ``body``: it holds a code."""

    def send(self, message: OutgoingMessage) -> None: ...


class OutboxSender:
    """The default sender: queues messages in the store's ``outbox`` table instead of sending.

    Local development reads them with ``distillguard accounts outbox``; production plugs in a
    real :class:`Sender`.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def send(self, message: OutgoingMessage) -> None:
        with self._sessions.begin() as session:
            session.add(
                OutboxMessage(
                    created_at=self._clock(),
                    channel=message.channel,
                    recipient=message.recipient,
                    account_id=message.account_id,
                    subject=message.subject,
                    body=message.body,
                )
            )


def mask_destination(destination: str) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``; ``+441234567890`` → ``+44*******890``."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(destination) <= 6:
        return "*" * len(destination)
    return destination[:3] + "*" * (len(destination) - 6) + destination[-3:]


class CodeVerifier:
    """A one-time numeric code sent over ``channel``; proves control of an address or number.

    The code is stored as HMAC(server secret, challenge id + code): six digits are guessable
    offline from a plain hash, not from a keyed one, and online guessing is capped by the
    store's attempt limit.
    """

    def __init__(
        self, *, channel: str, sender: Sender, secret: ServerSecret, digits: int = 6
    ) -> None:
        self.name = f"{channel}-code"
        self._channel = channel
        self._sender = sender
        self._secret = secret
        self._digits = digits

    def _hash(self, request: StepUpRequest, code: str) -> str:
        return self._secret.keyed_hash("step-up-code", f"{request.challenge_id}:{code}")

    def issue(self, request: StepUpRequest) -> IssuedChallenge:
        if not request.destination:
            raise ValueError(f"the {self._channel} verifier needs an address to send the code to")
        code = str(secrets.randbelow(10**self._digits)).zfill(self._digits)
        self._sender.send(
            OutgoingMessage(
                channel=self._channel,
                recipient=request.destination,
                account_id=request.account_id,
                subject="Your distillguard verification code",
                body=f"Your verification code is {code}. It expires soon; "
                "never share it with anyone.",
            )
        )
        hint = mask_destination(request.destination)
        return IssuedChallenge(
            state=self._hash(request, code),
            destination_hint=hint,
            instructions=f"enter the {self._digits}-digit code sent by {self._channel} to {hint}",
        )

    def check(self, request: StepUpRequest, state: str, response: str) -> bool:
        candidate = "".join(response.split())
        return hmac.compare_digest(self._hash(request, candidate), state)


@dataclass(frozen=True, slots=True)
class KycSession:
    """An external check the account completes with the provider (e.g. at ``url``)."""

    reference: str
    url: str | None


class KycProvider(Protocol):
    """An external document / company verification service.

    ``start`` opens a verification session for the account; ``verified`` asks the provider
    whether the session passed. ``response`` is whatever the provider hands back to the user or
    to our webhook (a result token); the provider must check it, not trust it.
    """

    name: str

    def start(self, account_id: str, tier: Verification) -> KycSession: ...

    def verified(self, reference: str, response: str) -> bool: ...


class KycVerifier:
    """Adapts a :class:`KycProvider` to the :class:`Verifier` protocol."""

    def __init__(self, provider: KycProvider) -> None:
        self.name = f"kyc-{provider.name}"
        self._provider = provider

    def issue(self, request: StepUpRequest) -> IssuedChallenge:
        session = self._provider.start(request.account_id, request.target_tier)
        where = f" at {session.url}" if session.url else ""
        return IssuedChallenge(
            state=session.reference,
            destination_hint=None,
            instructions=f"complete the {request.target_tier} check with "
            f"{self._provider.name}{where}, then submit its result token",
        )

    def check(self, request: StepUpRequest, state: str, response: str) -> bool:
        return self._provider.verified(state, response)
