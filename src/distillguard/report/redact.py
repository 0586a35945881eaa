"""Make customer text fit to show an analyst: secrets and e-mail addresses masked, truncated.

Prompts in a log can carry what their authors pasted: API keys, tokens, private keys,
passwords. A report is shared more widely than the log, so every prompt it quotes goes through
:func:`excerpt` first. The result is still untrusted text: the HTML builder escapes it.

Known gaps: a secret with no recognisable shape (a short password in free prose) is not found;
the masks err on the side of hiding long random-looking strings, which also hides some hashes
and identifiers that were harmless.
"""

from __future__ import annotations

import re

__all__ = ["SECRET_PATTERNS", "excerpt", "redact"]

_KEYWORD_VALUE = re.compile(
    r"(?i)\b(password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?key|token|"
    r"client[_-]?secret|auth)(\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
)

# (pattern, replacement) in application order: the specific shapes first, the generic
# long-random-string catch-alls last.
SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "[private key]",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[token]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"), "Bearer [token]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "[api key]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[api key]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"), "[api key]"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "[api key]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), "[api key]"),
    (re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b"), "[email]"),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "[hex]"),
    # Long unbroken runs mixing letters and digits look like keys; prose never has them.
    (
        re.compile(r"\b(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{40,}=*"),
        "[secret]",
    ),
)


def redact(text: str) -> str:
    """``text`` with recognisable secrets, credential values and e-mail addresses masked."""
    out = _KEYWORD_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    for pattern, replacement in SECRET_PATTERNS:
        out = pattern.sub(replacement, out)
    return out


_SPACE = re.compile(r"\s+")


def excerpt(text: str, limit: int = 280) -> str:
    """A one-line, redacted excerpt of at most ``limit`` characters (an ellipsis marks a cut).

    Whitespace runs collapse to one space so that a long multi-line prompt reads as a line.
    """
    flat = _SPACE.sub(" ", redact(text)).strip()
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 0)].rstrip() + "…"
