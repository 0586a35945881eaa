"""Every exception distillguard raises, in one place.

    DistillguardError            base; the CLI prints its message and exits non-zero
      ConfigError                a setting is missing, malformed or unsafe
      InputFileError             a file cannot be read at all (missing, truncated, wrong format)
      SchemaError                input does not match the event-log spec as a whole (bad rows
                                 are not errors: they go to the rejects file)
      StoreError                 the DuckDB store is unavailable, locked or from another version
      DetectorError              a detector is misconfigured or its model failed to load
      IdentityError              an identity operation was refused (unknown account, bad secret)
        AuthenticationError      an API key, password or one-time code did not check out
        LockedOutError           too many failed attempts; retry after a delay
      UpstreamError              the gateway could not reach the protected API
        UpstreamTimeout          ... or it did not answer within its timeout
      StateStoreError            the gateway's shared state (Redis) did not answer

Messages say what happened, which file/value caused it, and what to do next. They never carry
customer content (prompts, responses) or secrets: refer to request_id / account_id instead.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "DetectorError",
    "DistillguardError",
    "IdentityError",
    "InputFileError",
    "LockedOutError",
    "SchemaError",
    "StateStoreError",
    "StoreError",
    "UpstreamError",
    "UpstreamTimeout",
]


class DistillguardError(Exception):
    """Base of every error distillguard raises on purpose."""


class ConfigError(DistillguardError):
    """Raised when a setting is missing, malformed, or unsafe for the configured environment."""


class InputFileError(DistillguardError):
    """Raised when an input file cannot be read at all.

    The message always starts with the file's path, e.g.
    ``events.jsonl.gz: truncated gzip stream; re-export the file``.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SchemaError(DistillguardError):
    """Raised when an input as a whole does not match the spec (e.g. a required column is
    missing from a Parquet file). Individual bad records go to the rejects file instead."""


class StoreError(DistillguardError):
    """Raised when the DuckDB store cannot be opened, is locked by another process, or was
    written by an incompatible version."""


class DetectorError(DistillguardError):
    """Raised when a detector is misconfigured or its shipped model cannot be loaded."""


class IdentityError(DistillguardError):
    """Raised when an identity operation is refused: unknown account or key, weak secret, …"""


class AuthenticationError(IdentityError):
    """Raised when an API key, password or one-time code does not check out."""


class LockedOutError(IdentityError):
    """Raised after too many failed attempts; ``retry_after_s`` says when to try again."""

    def __init__(self, subject: str, retry_after_s: float) -> None:
        self.subject = subject
        self.retry_after_s = retry_after_s
        super().__init__(
            f"{subject}: too many failed attempts; locked for {retry_after_s:.0f} s more"
        )


class UpstreamError(DistillguardError):
    """Raised when the gateway cannot reach the protected API or it answered nonsense."""


class UpstreamTimeout(UpstreamError):
    """Raised when the upstream did not connect or answer within the gateway's timeout."""


class StateStoreError(DistillguardError):
    """Raised when the gateway's shared state store (Redis) does not answer in time; the
    gateway then applies its configured fail mode (``gateway.fail_mode``)."""
