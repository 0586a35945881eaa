"""The server secret and the keys derived from it.

One master secret (``DISTILLGUARD_IDENTITY__SECRET_KEY``) is stretched into independent
purpose keys with HMAC-SHA256, so that a key used to hash API keys is never also the key that
encrypts TOTP seeds or seals the audit log. Losing the secret invalidates every API key, TOTP
enrolment and the audit-log seal: back it up with the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken

from distillguard.errors import ConfigError

__all__ = ["PLACEHOLDER_SECRETS", "ServerSecret", "load_or_create_secret_file"]

log = structlog.get_logger(__name__)

MIN_SECRET_BYTES = 32

PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "changethis", "secret", "password", "default", "example", "test"}
)


@dataclass(frozen=True, slots=True)
class ServerSecret:
    """The master secret with its derived purpose keys. ``repr`` never shows key material."""

    master: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.master) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"identity secret is {len(self.master)} bytes; it needs at least "
                f"{MIN_SECRET_BYTES} random bytes (generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if self.master.decode("utf-8", "replace").strip().lower() in PLACEHOLDER_SECRETS:
            raise ConfigError("identity secret is a placeholder; set a random one")

    @classmethod
    def from_text(cls, text: str) -> ServerSecret:
        return cls(text.strip().encode("utf-8"))

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose``; different purposes give unrelated keys."""
        return hmac.new(self.master, b"distillguard/" + purpose.encode(), hashlib.sha256).digest()

    def keyed_hash(self, purpose: str, value: bytes | str) -> str:
        """Hex HMAC-SHA256 of ``value`` under the ``purpose`` key.

        Used for high-entropy values (API keys, session tokens) and for short codes that are
        also rate- and attempt-limited: without the server secret a stolen table cannot be
        brute-forced offline, and with it the hash still costs one HMAC on the hot path.
        """
        data = value.encode("utf-8") if isinstance(value, str) else value
        return hmac.new(self.derive(purpose), data, hashlib.sha256).hexdigest()

    def fingerprint(self) -> str:
        """A public check value stored in the database to detect a wrong secret at open."""
        return self.keyed_hash("fingerprint", b"identity-store")[:32]

    def _fernet(self, purpose: str) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self.derive(purpose)))

    def encrypt(self, purpose: str, plaintext: bytes) -> str:
        """Authenticated encryption (Fernet: AES-128-CBC + HMAC) under the ``purpose`` key."""
        return self._fernet(purpose).encrypt(plaintext).decode("ascii")

    def decrypt(self, purpose: str, token: str) -> bytes:
        try:
            return self._fernet(purpose).decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise ConfigError(
                "an encrypted identity value does not decrypt with this server secret; "
                "was the secret changed?"
            ) from exc


def load_or_create_secret_file(path: Path) -> ServerSecret:
    """Read the local secret file, creating it (mode 0600) with 48 random bytes if absent.

    Only for ``env="local"``: production must set the secret explicitly.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"{path}: identity secret file is readable by others (mode {mode:o}); "
                f"run `chmod 600 {path}`"
            )
        return ServerSecret.from_text(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")
    log.info("identity.secret_created", path=str(path))
    return ServerSecret.from_text(path.read_text(encoding="utf-8"))
