"""Slow hashing for low-entropy secrets (passwords, recovery codes) and password strength.

These secrets can be guessed, so a stolen table must make each guess expensive: scrypt
(memory-hard, in the standard library). The stored form is self-describing,
``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised later and old
hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from distillguard.errors import IdentityError

__all__ = [
    "DEFAULT_SCRYPT_LOG2_N",
    "MIN_PASSWORD_LENGTH",
    "ScryptCost",
    "check_password_strength",
    "hash_secret",
    "new_recovery_codes",
    "normalise_recovery_code",
    "verify_secret",
]

DEFAULT_SCRYPT_LOG2_N = 15
MIN_PASSWORD_LENGTH = 12

# The most common leaked passwords that pass a length rule; a real deployment adds a breach list.
_COMMON = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "qwertyuiopas",
        "qwertyqwerty",
        "iloveyou1234",
        "letmein12345",
        "adminadmin12",
        "welcome12345",
        "changeme1234",
        "abcdefghijkl",
        "111111111111",
        "000000000000",
        "aaaaaaaaaaaa",
    }
)


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt parameters; ``log2_n=15`` takes ~50 ms and 32 MiB per hash."""

    log2_n: int = DEFAULT_SCRYPT_LOG2_N
    r: int = 8
    p: int = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_secret(secret: str, cost: ScryptCost) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=2**cost.log2_n,
        r=cost.r,
        p=cost.p,
        maxmem=2**26 + 2**cost.log2_n * cost.r * 256,
        dklen=32,
    )
    return f"scrypt${cost.log2_n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a :func:`hash_secret` value."""
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            secret.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=2 ** int(log2_n),
            r=int(r),
            p=int(p),
            maxmem=2**26 + 2 ** int(log2_n) * int(r) * 256,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def check_password_strength(password: str, *, account_id: str, email: str | None) -> None:
    """Refuse passwords an attacker would try first, saying why (never repeating the password)."""
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"shorter than {MIN_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) <= 3:
        problems.append("a well-known or repetitive password")
    for name, value in (("account id", account_id), ("email address", email)):
        if value and len(value) >= 4 and value.split("@")[0].lower() in lowered:
            problems.append(f"contains the {name}")
    if problems:
        raise IdentityError(
            "weak password: " + "; ".join(problems) + ". Use a long passphrase or a password "
            "manager's random password."
        )


_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_recovery_codes(count: int = 10) -> list[str]:
    """``count`` one-time codes like ``k7pq-m3xz-a9rt`` (~59 bits each)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    """Accept codes typed with spaces, upper case or without dashes."""
    raw = "".join(ch for ch in code.lower() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw
