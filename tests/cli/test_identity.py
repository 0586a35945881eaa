"""The identity CLI end to end on SQLite and PostgreSQL: every command, its bad inputs, and
that no secret reaches the logs or any output except where it is shown once on purpose."""

from __future__ import annotations

import json
import logging
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from distillguard.cli.app import app
from distillguard.errors import AuthenticationError, DistillguardError
from distillguard.identity import totp
from tests.identity.conftest import (  # noqa: F401  (fixtures)
    db_url,
    pg_schema_url,
    pg_session_schema,
    sqlite_template,
)

SECRET = secrets.token_urlsafe(48)


@pytest.fixture(autouse=True)
def identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLGUARD_IDENTITY__SECRET_KEY", SECRET)
    monkeypatch.setenv("DISTILLGUARD_IDENTITY__SCRYPT_LOG2_N", "10")


def _reset_logging() -> None:
    """The CLI points logging at the runner's stderr, which is closed after each invoke."""
    structlog.reset_defaults()
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()
        self.transcript: list[str] = []

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> str:
        result = self.runner.invoke(app, [*args, "--db-url", self.url], input=stdin)
        _reset_logging()
        text = result.output + (result.stderr if result.stderr_bytes else "")
        self.transcript.append(text)
        if ok and result.exit_code != 0:
            raise AssertionError(f"{args} failed: {text}\n{result.exception!r}")
        if not ok:
            assert result.exit_code != 0, f"{args} should have failed: {text}"
            if isinstance(result.exception, DistillguardError):
                self.transcript.append(str(result.exception))
                return str(result.exception)
        return text


@pytest.fixture
def cli(db_url: str) -> Cli:  # noqa: F811
    return Cli(db_url)


def _enrol(cli: Cli, account: str) -> tuple[bytes, list[str]]:
    out = cli("mfa", "enroll", account)
    secret = re.search(r"secret=([A-Z2-7]+)", out)
    assert secret is not None and "█" in out or "▀" in out or "▄" in out
    seed = totp.seed_from_base32(secret.group(1))
    out = cli("mfa", "confirm", account, "--code", totp.totp(seed, time.time()))
    codes = re.findall(r"\b[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\b", out)
    assert len(codes) == 10
    return seed, codes


def test_full_flow_and_no_secret_leaks(cli: Cli, capfd: pytest.CaptureFixture[str]) -> None:
    password = "a sturdy passphrase 42"
    cli("accounts", "create", "root", "--admin", "--email", "root@example.com")
    cli("accounts", "create", "alice", "--email", "alice@corp.example", "--org", "corp",
        "--password-stdin", stdin=password + "\n")  # fmt: skip
    root_seed, root_codes = _enrol(cli, "root")
    alice_seed, alice_codes = _enrol(cli, "alice")

    # Keys need MFA; the key is printed once and never again.
    err = cli("keys", "create", "alice", ok=False)
    assert "needs a second factor" in err
    out = cli("keys", "create", "alice", "--recovery-code", alice_codes[0], "--expires-in", "30d")
    raw_key = re.search(r"dg_[a-z2-9]{12}_[A-Za-z0-9_-]{43}", out)
    assert raw_key is not None and "shown once" in out
    key_id = raw_key.group(0).split("_")[1]
    listed = cli("keys", "list", "alice")
    assert key_id in listed and raw_key.group(0) not in listed

    # Tiers: raising needs an admin's second factor, then quotas follow.
    err = cli("accounts", "set-tier", "alice", "document", "--as", "alice", "--recovery-code",
              alice_codes[1], ok=False)  # fmt: skip
    assert "not an admin" in err
    cli("accounts", "set-tier", "alice", "document", "--as", "root", "--recovery-code",
        root_codes[0])  # fmt: skip
    shown = cli("accounts", "show", "alice")
    assert "document" in shown and "1000" in shown
    cli("accounts", "set-limits", "alice", "--rpm", "77", "--as", "root", "--recovery-code",
        root_codes[1])  # fmt: skip
    assert "77" in cli("accounts", "list")

    # Rotation prints the new key once; revocation works.
    out = cli("keys", "rotate", key_id, "--recovery-code", alice_codes[2])
    new_key = re.search(r"dg_[a-z2-9]{12}_[A-Za-z0-9_-]{43}", out)
    assert new_key is not None and new_key.group(0) != raw_key.group(0)
    new_id = new_key.group(0).split("_")[1]
    cli("keys", "revoke", new_id, "--reason", "test")
    assert "revoked" in cli("keys", "list", "alice")

    # New recovery codes, step-up, audit log.
    out = cli("mfa", "recovery-codes", "alice", "--recovery-code", alice_codes[3])
    new_codes = re.findall(r"\b[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\b", out)
    assert len(new_codes) == 10
    cli("accounts", "create", "bob", "--email", "bob@example.com")
    assert "b***@example.com" in cli("accounts", "step-up", "start", "bob")
    box = cli("accounts", "outbox", "bob")
    step_code = re.search(r"\b(\d{6})\b", box)
    assert step_code is not None
    assert "tier now 'email'" in cli("accounts", "step-up", "complete", "bob", "--code",
                                     step_code.group(1))  # fmt: skip
    verified = cli("accounts", "audit-log", "verify")
    assert "intact" in verified
    assert "key.create" in cli("accounts", "audit-log", "show", "--limit", "50")

    # Secrets shown once: each appears in exactly one command's output, never in logs.
    transcript = cli.transcript

    def outputs_with(s: str) -> int:
        return sum(s in t for t in transcript)

    assert outputs_with(raw_key.group(0)) == 1
    assert outputs_with(new_key.group(0)) == 1
    for code in alice_codes + root_codes:
        assert outputs_with(code) == 1
    for s in (totp.seed_to_base32(alice_seed), totp.seed_to_base32(root_seed)):
        assert outputs_with(s) == 1
    captured = capfd.readouterr()
    logs = captured.err + captured.out
    for s in (SECRET, password, raw_key.group(0), new_key.group(0), *alice_codes,
              *root_codes, *new_codes, totp.seed_to_base32(alice_seed)):  # fmt: skip
        assert s not in logs
    assert all(password not in t for t in transcript)
    assert all(SECRET not in t for t in transcript)
    # The step-up code appears only in the outbox (the local mailbox), not in any other output.
    assert outputs_with(step_code.group(1)) == 1


def test_bad_inputs_have_clear_errors(cli: Cli) -> None:
    assert "unknown account 'ghost'" in cli("accounts", "show", "ghost", ok=False)
    assert "unknown tier 'gold'" in cli("accounts", "set-tier", "x", "gold", ok=False)
    cli("accounts", "create", "carol", "--email", "carol@example.com")
    assert "already exists" in cli("accounts", "create", "carol", ok=False)
    assert "weak password" in cli("accounts", "create", "dan", "--password-stdin",
                                  stdin="short\n", ok=False)  # fmt: skip
    seed, _codes = _enrol(cli, "carol")
    wrong = str((int(totp.totp(seed, time.time() + 30)) + 1) % 10**6).zfill(6)
    err = cli("keys", "create", "carol", "--otp", wrong, ok=False)
    assert "wrong TOTP code" in err or "already used" in err
    assert "6 digits" in cli("mfa", "verify", "carol", "--code", "12ab", ok=False)
    assert "bad duration" in cli("keys", "create", "carol", "--expires-in", "soon",
                                 "--otp", "000000", ok=False)  # fmt: skip
    assert "unknown API key" in cli("keys", "revoke", "nokey", ok=False)
    assert "no pending step-up" in cli("accounts", "step-up", "complete", "carol", "--code",
                                       "123456", ok=False)  # fmt: skip
    assert "No such file" in cli("mfa", "webauthn-finish", "carol", "c1", "--response",
                                 "/nonexistent.json", ok=False)  # fmt: skip


def test_lockout_message(cli: Cli) -> None:
    cli("accounts", "create", "eve")
    seed, _ = _enrol(cli, "eve")
    good = {totp.totp(seed, time.time() + d) for d in (-60, -30, 0, 30, 60)}
    wrong = next(c for c in (f"{i:06d}" for i in range(10)) if c not in good)
    messages = []
    for _ in range(6):
        messages.append(cli("mfa", "verify", "eve", "--code", wrong, ok=False))
    assert any("too many failed attempts" in m and "locked for" in m for m in messages)


def test_expired_and_revoked_key_messages_via_library(cli: Cli, db_url: str) -> None:  # noqa: F811
    from distillguard.identity import IdentityStore
    from distillguard.settings import load_settings

    cli("accounts", "create", "fay")
    _seed, codes = _enrol(cli, "fay")
    out = cli("keys", "create", "fay", "--recovery-code", codes[0], "--expires-in", "1s")
    raw = re.search(r"dg_[a-z2-9]{12}_[A-Za-z0-9_-]{43}", out)
    assert raw is not None
    time.sleep(1.1)
    with IdentityStore.open(db_url, settings=load_settings()) as store:
        with pytest.raises(AuthenticationError, match="expired"):
            store.authenticate_key(raw.group(0))
    assert "expired" in cli("keys", "list", "fay")


def test_audit_log_verify_names_broken_entry(cli: Cli) -> None:
    from sqlalchemy import create_engine, text

    for name in ("g1", "g2", "g3"):
        cli("accounts", "create", name)
    engine = create_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE admin_audit_log SET target = 'g9' WHERE seq = 2"))
    engine.dispose()
    result = cli.runner.invoke(app, ["accounts", "audit-log", "verify", "--db-url", cli.url])
    _reset_logging()
    assert result.exit_code == 1
    assert "BROKEN at entry 2" in result.output


def test_signup_risk_command(tmp_path: Path) -> None:
    rows = [
        {"account_id": f"a{i}", "created_at": f"2026-03-01T09:0{i}:00Z",
         "email_domain": "mailinator.com" if i < 3 else "gmail.com",
         "payment_fingerprint": "card-1" if i < 3 else f"card-{i + 10}",
         "signup_ip": f"203.0.113.{i}"}
        for i in range(8)
    ]  # fmt: skip
    path = tmp_path / "accounts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out_path = tmp_path / "risk.jsonl"
    result = CliRunner().invoke(
        app, ["accounts", "risk", "--accounts", str(path), "--out", str(out_path)]
    )
    _reset_logging()
    assert result.exit_code == 0, result.output
    scored = {r["account_id"]: r for r in map(json.loads, out_path.read_text().splitlines())}
    assert scored["a0"]["signup_risk"] > 0.7 > scored["a5"]["signup_risk"]
    assert "disposable email domain" in scored["a1"]["reasons"]


def test_console_script_prints_one_line_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'id.sqlite'}"
    proc = subprocess.run(
        [sys.executable, "-m", "distillguard.cli", "accounts", "show", "nobody", "--db-url", url],
        capture_output=True,
        text=True,
        env={"DISTILLGUARD_IDENTITY__SECRET_KEY": SECRET, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 2
    assert "error: unknown account 'nobody'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
