"""Step-up verification flows and the local outbox."""

from __future__ import annotations

import secrets
from datetime import timedelta

import structlog
from sqlalchemy import select

from distillguard.errors import AuthenticationError, IdentityError
from distillguard.events.records import Verification
from distillguard.identity.models import AccountInfo
from distillguard.identity.stepup import Challenge, StepUpRequest, Verifier
from distillguard.identity.store_base import StoreBase
from distillguard.identity.tables import OutboxMessage, StepUpChallenge
from distillguard.identity.tiers import next_tier, tier_rank

__all__ = ["OutboxEntry", "StepUpMixin"]

log = structlog.get_logger(__name__)


class OutboxEntry:
    """A message in the local outbox (the default step-up sender's mailbox)."""

    __slots__ = ("account_id", "body", "channel", "created_at", "recipient", "subject")

    def __init__(self, row: OutboxMessage) -> None:
        self.created_at = row.created_at
        self.channel = row.channel
        self.recipient = row.recipient
        self.account_id = row.account_id
        self.subject = row.subject
        self.body = row.body

    def __repr__(self) -> str:
        return f"OutboxEntry(account_id={self.account_id!r}, channel={self.channel!r})"


class StepUpMixin(StoreBase):
    """Step-up operations of :class:`IdentityStore`."""

    def register_verifier(self, tier: Verification, verifier: Verifier) -> None:
        """Plug in the check for ``tier`` (e.g. ``KycVerifier(MyProvider())`` for documents)."""
        self._verifiers[tier] = verifier

    def start_step_up(self, account_id: str, *, destination: str | None = None) -> Challenge:
        """Open the next tier's check for the account (the gateway's ``challenge`` answer).

        ``destination`` is where a code goes (defaults to the account's email); a new challenge
        replaces any pending one.
        """
        with self._tx() as s:
            row = self._account(s, account_id)
            current = Verification(row.verification)
            email = row.email
        target = next_tier(current)
        if target is None:
            raise IdentityError(f"account {account_id} is already at the highest tier ({current})")
        verifier = self._verifiers.get(target)
        if verifier is None:
            raise IdentityError(
                f"no verifier is configured for the '{target}' tier; register one with "
                "IdentityStore.register_verifier (e.g. a KycVerifier for your document provider)"
            )
        if destination is None and target is Verification.EMAIL:
            destination = email
        if target in (Verification.EMAIL, Verification.PHONE) and not destination:
            what = "an email address" if target is Verification.EMAIL else "a phone number"
            raise IdentityError(f"account {account_id}: step-up to '{target}' needs {what}")
        challenge_id = secrets.token_urlsafe(16)
        request = StepUpRequest(account_id, challenge_id, target, destination)
        # Issued outside a transaction: sending may be slow and, with the outbox sender, writes
        # through its own session.
        issued = verifier.issue(request)
        expires = self._now() + timedelta(seconds=self._settings.step_up_code_ttl_s)
        with self._tx() as s:
            for pending in s.scalars(
                select(StepUpChallenge)
                .where(StepUpChallenge.account_id == account_id)
                .where(StepUpChallenge.completed_at.is_(None))
            ):
                s.delete(pending)
            s.add(
                StepUpChallenge(
                    challenge_id=challenge_id,
                    account_id=account_id,
                    verifier=verifier.name,
                    target_tier=target.value,
                    state=issued.state,
                    destination=destination,
                    created_at=self._now(),
                    expires_at=expires,
                    attempts=0,
                    completed_at=None,
                )
            )
            self._audit(
                s,
                "system",
                "stepup.start",
                account_id,
                {"target": target, "verifier": verifier.name},
            )
        log.info("identity.step_up_started", account_id=account_id, target=str(target))
        return Challenge(
            challenge_id=challenge_id,
            account_id=account_id,
            target_tier=target,
            verifier=verifier.name,
            destination_hint=issued.destination_hint,
            instructions=issued.instructions,
            expires_at=expires,
        )

    def complete_step_up(self, account_id: str, code: str) -> AccountInfo:
        """Check the response to the pending challenge; on success the account moves to the
        target tier and its quotas follow at once."""
        subject = f"stepup:{account_id}"
        problem = ""
        with self._tx() as s:
            self._guard(s, subject)
            row = self._account(s, account_id)
            ch = s.scalars(
                select(StepUpChallenge)
                .where(StepUpChallenge.account_id == account_id)
                .where(StepUpChallenge.completed_at.is_(None))
                .order_by(StepUpChallenge.created_at.desc())
                .limit(1)
            ).first()
            if ch is None:
                raise IdentityError(
                    f"account {account_id} has no pending step-up; start one with "
                    "`distillguard accounts step-up start`"
                )
            if ch.expires_at <= self._now():
                raise IdentityError(
                    f"account {account_id}: the step-up code expired at "
                    f"{ch.expires_at:%H:%M:%S} UTC; start a new one"
                )
            if ch.attempts >= self._settings.step_up_max_attempts:
                raise IdentityError(
                    f"account {account_id}: too many wrong codes for this step-up; start a new one"
                )
            target = Verification(ch.target_tier)
            verifier = self._verifiers.get(target)
            if verifier is None or verifier.name != ch.verifier:
                raise IdentityError(
                    f"the verifier '{ch.verifier}' that issued this step-up is not configured now"
                )
            request = StepUpRequest(account_id, ch.challenge_id, target, ch.destination)
            if verifier.check(request, ch.state, code):
                ch.completed_at = self._now()
                old = Verification(row.verification)
                if tier_rank(target) > tier_rank(old):
                    row.verification = target.value
                self._clear_failures(s, subject)
                self._audit(s, "system", "stepup.complete", account_id, {"from": old, "to": target})
                info = self._info(s, row)
            else:
                ch.attempts += 1
                left = self._settings.step_up_max_attempts - ch.attempts
                problem = f"wrong verification code ({left} attempts left for this challenge)"
        if problem:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: {problem}")
        log.info("identity.step_up_completed", account_id=account_id, tier=str(info.tier))
        return info

    def outbox(self, account_id: str | None = None) -> list[OutboxEntry]:
        """Messages the default sender queued (local development only)."""
        with self._tx() as s:
            q = select(OutboxMessage).order_by(OutboxMessage.id)
            if account_id is not None:
                q = q.where(OutboxMessage.account_id == account_id)
            return [OutboxEntry(r) for r in s.scalars(q)]
