"""API key format, generation and parsing.

A key reads ``dg_<key_id>_<secret>``: ``key_id`` is public (it names the key in logs, listings
and the event log's ``api_key_id``) and lets the store find the row with a primary-key lookup;
``secret`` carries 256 random bits and is only ever stored as HMAC-SHA256 under the server's
pepper.

Why not bcrypt/scrypt/argon2 here: a slow KDF protects *low-entropy* secrets (passwords) from
offline guessing. A 256-bit random secret cannot be guessed whatever the hash speed, and the
gateway checks a key on every request inside a ~1 ms budget; a 50-100 ms KDF per request would
be the whole budget a hundred times over. The pepper (a secret kept out of the database) means a
stolen ``api_keys`` table alone does not even allow checking a candidate key.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from distillguard.errors import AuthenticationError

__all__ = ["KEY_PREFIX", "ParsedKey", "generate_key", "parse_key"]

KEY_PREFIX = "dg"
_KEY_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_KEY_ID_LEN = 12
_KEY_RE = re.compile(r"^dg_([a-z2-9]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    secret: str = field(repr=False)


def _new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LEN))


def generate_key() -> tuple[str, ParsedKey]:
    """A new raw key and its parts. The raw key is shown to its owner once and never stored."""
    parsed = ParsedKey(key_id=_new_key_id(), secret=secrets.token_urlsafe(32))
    return f"{KEY_PREFIX}_{parsed.key_id}_{parsed.secret}", parsed


def parse_key(raw_key: str) -> ParsedKey:
    """Split a presented key; a malformed one raises without echoing what was presented."""
    match = _KEY_RE.match(raw_key.strip())
    if match is None:
        raise AuthenticationError(
            "malformed API key: expected 'dg_<12-char id>_<43-char secret>' "
            "(the key is not repeated here)"
        )
    return ParsedKey(key_id=match.group(1), secret=match.group(2))
