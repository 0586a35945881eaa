"""Secrets and e-mail addresses never reach a report; ordinary prose passes unchanged."""

from __future__ import annotations

import pytest

from distillguard.report.redact import excerpt, redact

SECRETS = [
    "sk-proj-abcdefghijklmnop1234567890",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-123456789012-abcdefghijkl",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_known_secret_shapes_are_masked(secret):
    out = redact(f"please use {secret} for the call")
    assert secret not in out
    assert out.startswith("please use ")
    assert out.endswith(" for the call")


def test_credential_values_and_emails_are_masked():
    out = redact('password: hunter2 and api_key="abc 123" mail bob.smith@example.co.uk')
    assert "hunter2" not in out and "abc 123" not in out
    assert "bob.smith@example.co.uk" not in out
    assert "password: [redacted]" in out
    assert "[email]" in out


def test_private_key_block_is_masked():
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----"
    out = redact(f"here:\n{key}\nthanks")
    assert "MIIEowIBAAKCAQEA" not in out
    assert "[private key]" in out and out.endswith("thanks")


def test_ordinary_prompts_pass_unchanged():
    for text in (
        "Solve step by step and show all your reasoning: problem 4417",
        "The following are multiple choice questions (with answers) about anatomy.",
        "def add(a, b):\n    return a + b",
        "Translate 'token economy' into French.",
    ):
        assert redact(text) == text


def test_excerpt_flattens_and_truncates():
    text = "line one\n\n   line two " + "x" * 500
    out = excerpt(text, 50)
    assert len(out) <= 50
    assert out.endswith("…")
    assert out.startswith("line one line two")
    assert excerpt("short", 50) == "short"
