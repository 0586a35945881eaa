"""Second factors: TOTP, recovery codes, WebAuthn, MFA sessions and console sign-in."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from distillguard.errors import AuthenticationError, IdentityError
from distillguard.identity import passkeys, totp
from distillguard.identity.models import FactorConfirmation, MfaMethod, MfaSession, TotpEnrollment
from distillguard.identity.passwords import (
    hash_secret,
    new_recovery_codes,
    normalise_recovery_code,
    verify_secret,
)
from distillguard.identity.store_base import StoreBase, _execute
from distillguard.identity.tables import (
    Account,
    MfaSessionRow,
    RecoveryCode,
    TotpFactor,
    WebAuthnChallenge,
    WebAuthnCredential,
)

__all__ = ["MfaMixin"]

_WEBAUTHN_CHALLENGE_TTL_S = 300


class MfaMixin(StoreBase):
    """Second-factor operations of :class:`IdentityStore`."""

    def check_mfa(self, mfa: MfaSession | str, *, account_id: str | None = None) -> MfaSession:
        """Validate an MFA session token (e.g. a console request); ``account_id`` pins its owner."""
        with self._tx() as s:
            session = self._require_mfa(s, mfa, purpose="use the console")
        if account_id is not None and session.account_id != account_id:
            raise AuthenticationError("the MFA session belongs to another account")
        return session

    def end_mfa_session(self, mfa: MfaSession | str) -> None:
        token = mfa.token if isinstance(mfa, MfaSession) else mfa
        with self._tx() as s:
            row = s.get(MfaSessionRow, self._secret.keyed_hash("mfa-session", token))
            if row is not None:
                s.delete(row)

    def login(self, account_id: str, password: str, code: str) -> MfaSession:
        """Console sign-in: password and a TOTP code, both throttled; returns an MFA session."""
        subject = f"password:{account_id}"
        with self._tx() as s:
            self._guard(s, subject)
            row = s.get(Account, account_id)
            stored = row.password_hash if row is not None else None
            # An unknown account costs the same scrypt as a known one: timing does not tell
            # an attacker which account ids exist.
            ok = verify_secret(password, stored or self._decoy_hash()) and stored is not None
        if not ok:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong account or password")
        with self._tx() as s:
            self._clear_failures(s, subject)
        return self.verify_totp(account_id, code)

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = hash_secret(secrets.token_urlsafe(16), self._scrypt)
        return self._decoy

    def enroll_totp(
        self, account_id: str, *, mfa: MfaSession | str | None = None
    ) -> TotpEnrollment:
        """Start (or restart) TOTP enrolment; confirm it with :meth:`confirm_totp`.

        An account that already has a confirmed factor must present an MFA session, so a stolen
        password alone cannot swap the authenticator.
        """
        seed = totp.new_seed()
        with self._tx() as s:
            row = self._account(s, account_id)
            if self._has_factor(s, account_id):
                self._require_owner_mfa(s, account_id, mfa, "re-enrol TOTP")
            factor = s.get(TotpFactor, account_id)
            encrypted = self._secret.encrypt("totp-seed", seed)
            if factor is None:
                s.add(
                    TotpFactor(
                        account_id=account_id,
                        seed_encrypted=encrypted,
                        pending_seed_encrypted=encrypted,
                        confirmed_at=None,
                        last_used_step=None,
                        created_at=self._now(),
                    )
                )
            else:
                # The confirmed seed keeps working until the new one is confirmed.
                factor.pending_seed_encrypted = encrypted
            self._audit(s, account_id, "mfa.totp_enroll_started", account_id)
        uri = totp.provisioning_uri(seed, row.email or account_id, self._settings.totp_issuer)
        return TotpEnrollment(
            account_id=account_id, uri=uri, secret_base32=totp.seed_to_base32(seed)
        )

    def _totp_seed(self, encrypted: str) -> bytes:
        return self._secret.decrypt("totp-seed", encrypted)

    def confirm_totp(self, account_id: str, code: str) -> FactorConfirmation:
        """Finish enrolment with the first code from the app. On an account's first factor this
        also issues recovery codes (shown once)."""
        subject = f"mfa:{account_id}"
        codes: list[str] = []
        with self._tx() as s:
            self._guard(s, subject)
            factor = s.get(TotpFactor, account_id)
            self._account(s, account_id)
            if factor is None or factor.pending_seed_encrypted is None:
                raise IdentityError(
                    f"account {account_id}: no TOTP enrolment in progress; start one with "
                    "`distillguard mfa enroll`"
                )
            seed = self._totp_seed(factor.pending_seed_encrypted)
            step = totp.match_totp(seed, _digits(code), self._now().timestamp())
            if step is not None:
                first = not self._has_factor(s, account_id)
                factor.seed_encrypted = factor.pending_seed_encrypted
                factor.pending_seed_encrypted = None
                factor.confirmed_at = self._now()
                factor.last_used_step = step
                if first or not self._has_recovery_codes(s, account_id):
                    codes = self._replace_recovery_codes(s, account_id)
                self._clear_failures(s, subject)
                self._audit(s, account_id, "mfa.totp_confirmed", account_id)
                session = self._issue_mfa(s, account_id, MfaMethod.TOTP)
        if step is None:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong TOTP code")
        return FactorConfirmation(session=session, recovery_codes=tuple(codes))

    def verify_totp(self, account_id: str, code: str) -> MfaSession:
        """Check a TOTP code and open an MFA session.

        Refused: a wrong code, and a code whose time step was already used (a replayed or
        shoulder-surfed code). Both count as failures toward lockout.
        """
        subject = f"mfa:{account_id}"
        problem = ""
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            factor = s.get(TotpFactor, account_id)
            if factor is None or factor.confirmed_at is None:
                raise IdentityError(
                    f"account {account_id} has no confirmed TOTP factor; enrol with "
                    "`distillguard mfa enroll`"
                )
            seed = self._totp_seed(factor.seed_encrypted)
            step = totp.match_totp(seed, _digits(code), self._now().timestamp())
            if step is None:
                problem = "wrong TOTP code"
            else:
                # Conditional update: two racing requests with the same code cannot both win.
                claimed = _execute(
                    s,
                    update(TotpFactor)
                    .where(TotpFactor.account_id == account_id)
                    .where(
                        (TotpFactor.last_used_step.is_(None)) | (TotpFactor.last_used_step < step)
                    )
                    .values(last_used_step=step)
                    .execution_options(synchronize_session=False),
                )
                if claimed.rowcount != 1:
                    problem = "TOTP code already used; wait for the next code"
                else:
                    self._clear_failures(s, subject)
                    session = self._issue_mfa(s, account_id, MfaMethod.TOTP)
        if problem:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: {problem}")
        return session

    def _has_recovery_codes(self, s: Session, account_id: str) -> bool:
        return (
            s.scalar(
                select(RecoveryCode.id)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
                .limit(1)
            )
            is not None
        )

    def _replace_recovery_codes(self, s: Session, account_id: str) -> list[str]:
        for old in s.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account_id)):
            s.delete(old)
        codes = new_recovery_codes()
        for code in codes:
            s.add(RecoveryCode(account_id=account_id, code_hash=hash_secret(code, self._scrypt)))
        self._audit(s, account_id, "mfa.recovery_codes_issued", account_id, {"count": len(codes)})
        return codes

    def regenerate_recovery_codes(
        self, account_id: str, *, mfa: MfaSession | str | None
    ) -> list[str]:
        """Replace every recovery code (old ones stop working); shown once."""
        with self._tx() as s:
            self._account(s, account_id)
            self._require_owner_mfa(s, account_id, mfa, "regenerate recovery codes")
            return self._replace_recovery_codes(s, account_id)

    def remaining_recovery_codes(self, account_id: str) -> int:
        with self._tx() as s:
            self._account(s, account_id)
            rows = s.scalars(
                select(RecoveryCode.id)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
            ).all()
            return len(rows)

    def use_recovery_code(self, account_id: str, code: str) -> MfaSession:
        """Spend one recovery code (each works once) for an MFA session."""
        subject = f"mfa:{account_id}"
        wanted = normalise_recovery_code(code)
        ok = False
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            unused = s.scalars(
                select(RecoveryCode)
                .where(RecoveryCode.account_id == account_id)
                .where(RecoveryCode.used_at.is_(None))
            ).all()
            match = next((r for r in unused if verify_secret(wanted, r.code_hash)), None)
            if match is not None:
                spent = _execute(
                    s,
                    update(RecoveryCode)
                    .where(RecoveryCode.id == match.id)
                    .where(RecoveryCode.used_at.is_(None))
                    .values(used_at=self._now())
                    .execution_options(synchronize_session=False),
                )
                ok = spent.rowcount == 1
            if ok:
                self._clear_failures(s, subject)
                self._audit(s, account_id, "mfa.recovery_code_used", account_id)
                session = self._issue_mfa(s, account_id, MfaMethod.RECOVERY_CODE)
        if not ok:
            self._record_failure(subject)
            raise AuthenticationError(f"account {account_id}: wrong or already used recovery code")
        return session

    def _new_webauthn_challenge(self, s: Session, account_id: str, kind: str) -> tuple[str, bytes]:
        challenge_id = secrets.token_urlsafe(16)
        challenge = secrets.token_bytes(32)
        s.add(
            WebAuthnChallenge(
                challenge_id=challenge_id,
                account_id=account_id,
                kind=kind,
                challenge=challenge,
                expires_at=self._now() + timedelta(seconds=_WEBAUTHN_CHALLENGE_TTL_S),
            )
        )
        return challenge_id, challenge

    def _take_webauthn_challenge(
        self, s: Session, account_id: str, challenge_id: str, kind: str
    ) -> bytes:
        row = s.get(WebAuthnChallenge, challenge_id)
        if row is None or row.account_id != account_id or row.kind != kind:
            raise AuthenticationError(
                f"account {account_id}: unknown or already used WebAuthn challenge; start again"
            )
        s.delete(row)  # single use, whatever the outcome
        if row.expires_at <= self._now():
            raise AuthenticationError(
                f"account {account_id}: WebAuthn challenge expired; start again"
            )
        return row.challenge

    def begin_webauthn_registration(
        self, account_id: str, *, mfa: MfaSession | str | None = None
    ) -> tuple[str, str]:
        """Registration options (JSON for ``navigator.credentials.create``) and the challenge
        id to finish with. Adding a factor to an account that has one needs an MFA session."""
        with self._tx() as s:
            row = self._account(s, account_id)
            if self._has_factor(s, account_id):
                self._require_owner_mfa(s, account_id, mfa, "add a security key")
            existing = s.scalars(
                select(WebAuthnCredential.credential_id).where(
                    WebAuthnCredential.account_id == account_id
                )
            ).all()
            challenge_id, challenge = self._new_webauthn_challenge(s, account_id, "register")
            options = passkeys.registration_options(
                self._rp,
                account_id=account_id,
                display_name=row.email or account_id,
                challenge=challenge,
                existing=existing,
            )
        return challenge_id, options

    def finish_webauthn_registration(
        self, account_id: str, challenge_id: str, response_json: str, *, name: str = "security key"
    ) -> FactorConfirmation:
        with self._tx() as s:
            self._account(s, account_id)
            challenge = self._take_webauthn_challenge(s, account_id, challenge_id, "register")
        # The challenge is consumed in its own transaction so a failed attempt cannot reuse it.
        verified = passkeys.verify_registration(
            self._rp, response_json=response_json, challenge=challenge
        )
        codes: list[str] = []
        with self._tx() as s:
            if s.get(WebAuthnCredential, verified.credential_id) is not None:
                raise IdentityError("this security key is already registered")
            first = not self._has_factor(s, account_id)
            s.add(
                WebAuthnCredential(
                    credential_id=verified.credential_id,
                    account_id=account_id,
                    public_key=verified.public_key,
                    sign_count=verified.sign_count,
                    name=name[:128],
                    created_at=self._now(),
                    last_used_at=None,
                )
            )
            if first or not self._has_recovery_codes(s, account_id):
                codes = self._replace_recovery_codes(s, account_id)
            self._audit(s, account_id, "mfa.webauthn_registered", account_id, {"name": name[:128]})
            session = self._issue_mfa(s, account_id, MfaMethod.WEBAUTHN)
        return FactorConfirmation(session=session, recovery_codes=tuple(codes))

    def begin_webauthn_authentication(self, account_id: str) -> tuple[str, str]:
        with self._tx() as s:
            self._account(s, account_id)
            creds = s.scalars(
                select(WebAuthnCredential.credential_id).where(
                    WebAuthnCredential.account_id == account_id
                )
            ).all()
            if not creds:
                raise IdentityError(f"account {account_id} has no registered security key")
            challenge_id, challenge = self._new_webauthn_challenge(s, account_id, "authenticate")
            options = passkeys.authentication_options(self._rp, challenge=challenge, allowed=creds)
        return challenge_id, options

    def verify_webauthn(self, account_id: str, challenge_id: str, response_json: str) -> MfaSession:
        """Check an assertion against the stored key; counts toward lockout on failure."""
        subject = f"mfa:{account_id}"
        with self._tx() as s:
            self._guard(s, subject)
            self._account(s, account_id)
            challenge = self._take_webauthn_challenge(s, account_id, challenge_id, "authenticate")
        try:
            with self._tx() as s:
                cred = s.get(WebAuthnCredential, passkeys.credential_id_of(response_json))
                if cred is None or cred.account_id != account_id:
                    raise AuthenticationError(
                        f"account {account_id}: the security key is not registered to it"
                    )
                new_count = passkeys.verify_authentication(
                    self._rp,
                    response_json=response_json,
                    challenge=challenge,
                    public_key=cred.public_key,
                    sign_count=cred.sign_count,
                )
                cred.sign_count = new_count
                cred.last_used_at = self._now()
                self._clear_failures(s, subject)
                return self._issue_mfa(s, account_id, MfaMethod.WEBAUTHN)
        except AuthenticationError:
            self._record_failure(subject)
            raise


def _digits(code: str) -> str:
    cleaned = "".join(code.split())
    if not cleaned.isdigit() or len(cleaned) != totp.DIGITS:
        raise AuthenticationError(f"a TOTP code is {totp.DIGITS} digits")
    return cleaned
