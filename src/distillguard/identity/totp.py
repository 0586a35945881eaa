"""HOTP (RFC 4226) and TOTP (RFC 6238), and the provisioning URI authenticator apps scan.

Our own forty lines instead of pyotp so that the replay rule (a time step once used cannot be
used again) can be enforced by the store, which needs the matched time step back, and so that
the RFC 6238 test vectors pin the maths down in our tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "DIGITS",
    "PERIOD_S",
    "hotp",
    "match_totp",
    "new_seed",
    "provisioning_uri",
    "qr_text",
    "seed_from_base32",
    "seed_to_base32",
    "totp",
]

DIGITS = 6
PERIOD_S = 30
_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_seed() -> bytes:
    """160 random bits, the RFC 4226 recommended seed length for HMAC-SHA1."""
    return secrets.token_bytes(20)


def seed_to_base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def seed_from_base32(text: str) -> bytes:
    """Inverse of :func:`seed_to_base32` (padding optional, case-insensitive)."""
    cleaned = text.strip().replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(seed: bytes, counter: int, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """RFC 4226 HOTP value for ``counter`` (dynamic truncation, zero-padded)."""
    mac = hmac.new(seed, struct.pack(">Q", counter), _ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def totp(
    seed: bytes,
    unix_time: float,
    digits: int = DIGITS,
    period_s: int = PERIOD_S,
    algorithm: str = "SHA1",
) -> str:
    """RFC 6238 TOTP value at ``unix_time`` (T0 = 0)."""
    return hotp(seed, int(unix_time // period_s), digits, algorithm)


def match_totp(
    seed: bytes, code: str, unix_time: float, window: int = 1, period_s: int = PERIOD_S
) -> int | None:
    """The time step whose code equals ``code`` within ±``window`` steps (clock drift), or
    ``None``. Every candidate is compared in constant time, so timing does not reveal which
    step came close."""
    step = int(unix_time // period_s)
    found: int | None = None
    for candidate in range(step - window, step + window + 1):
        if hmac.compare_digest(hotp(seed, candidate).encode(), code.encode()):
            found = candidate
    return found


def provisioning_uri(seed: bytes, account_name: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI (Key Uri Format) an authenticator app enrols from."""
    label = quote(f"{issuer}:{account_name}", safe="")
    query = urlencode(
        {
            "secret": seed_to_base32(seed),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD_S,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def qr_text(uri: str) -> str:
    """The URI as a QR code drawn with terminal characters (segno), for the CLI."""
    import io

    import segno

    buf = io.StringIO()
    segno.make(uri, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()
