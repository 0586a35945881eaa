"""``distillguard accounts | keys | mfa``: the identity store from the command line.

Privileged commands take a second factor: ``--otp CODE`` (or ``--recovery-code``) for the
account acting (``--as``, default the account concerned). Secrets are printed only when new and
only once: a created key, recovery codes, a TOTP enrolment URI.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.logging import configure_logging
from distillguard.errors import ConfigError, IdentityError
from distillguard.events.records import Verification
from distillguard.identity import IdentityStore, MfaSession, totp
from distillguard.identity.models import AccountInfo, KeyInfo
from distillguard.settings import Settings, load_settings

__all__ = ["accounts_app", "keys_app", "mfa_app", "register"]

accounts_app = typer.Typer(
    help="Accounts, tiers, limits, step-up and the admin audit log.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="API keys: create (shown once), list, rotate, revoke.", no_args_is_help=True
)
mfa_app = typer.Typer(help="Second factors: TOTP, recovery codes, WebAuthn.", no_args_is_help=True)
step_up_app = typer.Typer(help="Step-up verification to the next tier.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident admin audit log.", no_args_is_help=True)
accounts_app.add_typer(step_up_app, name="step-up")
accounts_app.add_typer(audit_app, name="audit-log")

# Piped output (scripts, tests) gets wide tables instead of ids wrapped at 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)

DB_URL = typer.Option(None, "--db-url", help="Identity database URL (default: settings).")
CONFIG = typer.Option(None, "--config", help="Settings file (TOML).")
OTP = typer.Option(None, "--otp", help="A current TOTP code of the acting account.")
RECOVERY = typer.Option(None, "--recovery-code", help="A recovery code instead of --otp.")
ACTING = typer.Option(None, "--as", help="Acting account (an admin); default: the account itself.")
JSON = typer.Option(False, "--json", help="JSON lines instead of a table.")


@contextmanager
def _open(db_url: str | None, config: Path | None) -> Iterator[tuple[IdentityStore, Settings]]:
    configure_logging()
    settings = load_settings(config, {"identity": {"database_url": db_url}})
    with IdentityStore.open(settings=settings) as store:
        yield store, settings


def _mfa(
    store: IdentityStore, account_id: str, otp: str | None, recovery: str | None
) -> MfaSession | None:
    if otp is not None:
        return store.verify_totp(account_id, otp)
    if recovery is not None:
        return store.use_recovery_code(account_id, recovery)
    return None


def _need_mfa(
    store: IdentityStore, account_id: str, otp: str | None, recovery: str | None, what: str
) -> MfaSession:
    session = _mfa(store, account_id, otp, recovery)
    if session is None:
        raise IdentityError(
            f"{what} needs a second factor of account {account_id}: pass --otp CODE "
            "(or --recovery-code CODE)"
        )
    return session


def _when(ts: datetime | None) -> str:
    return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S}"


def _account_dict(a: AccountInfo) -> dict[str, object]:
    return {
        "account_id": a.account_id,
        "org_id": a.org_id,
        "email_domain": a.email_domain,
        "verification": a.tier.value,
        "admin": a.is_admin,
        "created_at": a.created_at.isoformat(),
        "mfa": [m.value for m in a.mfa_methods],
        "requests_per_minute": a.quota.requests_per_minute,
        "tokens_per_minute": a.quota.tokens_per_minute,
        "suspended": a.suspended_at is not None,
    }


def _print_account(a: AccountInfo) -> None:
    table = Table(show_header=False, box=None)
    for key, value in _account_dict(a).items():
        table.add_row(key, str(value))
    out.print(table)


def _parse_tier(value: str) -> Verification:
    try:
        return Verification(value.lower())
    except ValueError:
        raise IdentityError(
            f"unknown tier {value!r}; choose one of {', '.join(v.value for v in Verification)}"
        ) from None


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_duration(value: str) -> float:
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise IdentityError(f"bad duration {value!r}: use e.g. 90m, 12h, 30d, 2w")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise IdentityError("--password-stdin given but stdin was empty")
    return password


# ------------------------------------------------------------------------------------ accounts


@accounts_app.command("create")
def accounts_create(
    account_id: str = typer.Argument(..., help="New account's id."),
    email: str | None = typer.Option(None, "--email"),
    org: str | None = typer.Option(None, "--org", help="Organisation id (created if new)."),
    admin: bool = typer.Option(False, "--admin", help="Make it an admin (operators)."),
    country: str | None = typer.Option(None, "--country", help="Declared ISO country, e.g. DE."),
    plan: str | None = typer.Option(None, "--plan"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password from stdin."
    ),
    acting: str | None = ACTING,
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Create an account at tier 'none'. The first admin needs no MFA; later admins need an
    admin's (--as ADMIN --otp CODE)."""
    password = _read_password(password_stdin)
    with _open(db_url, config) as (store, _):
        session = _mfa(store, acting, otp, recovery) if acting else None
        info = store.create_account(
            account_id,
            email=email,
            org_id=org,
            password=password,
            admin=admin,
            country=country,
            plan=plan,
            mfa=session,
        )
    out.print(
        f"created account {info.account_id} (tier {info.tier}); enrol MFA with "
        f"`distillguard mfa enroll {info.account_id}`"
    )


@accounts_app.command("list")
def accounts_list(
    org: str | None = typer.Option(None, "--org"),
    tier: str | None = typer.Option(None, "--tier"),
    as_json: bool = JSON,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """List accounts with tier, MFA and limits."""
    with _open(db_url, config) as (store, _):
        rows = store.list_accounts(org_id=org, tier=_parse_tier(tier) if tier else None)
    if as_json:
        for a in rows:
            out.print(orjson.dumps(_account_dict(a)).decode(), soft_wrap=True)
        return
    table = Table("account", "org", "tier", "mfa", "req/min", "admin", "suspended")
    for a in rows:
        table.add_row(
            a.account_id,
            a.org_id or "-",
            a.tier.value,
            ",".join(m.value for m in a.mfa_methods) or "-",
            str(a.quota.requests_per_minute),
            "yes" if a.is_admin else "",
            _when(a.suspended_at) if a.suspended_at else "",
        )
    out.print(table)


@accounts_app.command("show")
def accounts_show(
    account_id: str = typer.Argument(...),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """One account's tier, quota and factors."""
    with _open(db_url, config) as (store, _):
        info = store.get_account(account_id)
        remaining = store.remaining_recovery_codes(account_id)
    _print_account(info)
    out.print(f"recovery codes left: {remaining}")


@accounts_app.command("set-tier")
def accounts_set_tier(
    account_id: str = typer.Argument(...),
    tier: str = typer.Argument(..., help="none, email, phone, document or organization."),
    reason: str = typer.Option("", "--reason"),
    acting: str | None = ACTING,
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Set a tier by hand. Raising it needs an admin's second factor (--as ADMIN --otp CODE)."""
    new_tier = _parse_tier(tier)
    with _open(db_url, config) as (store, _):
        session = _mfa(store, acting, otp, recovery) if acting else None
        info = store.set_tier(account_id, new_tier, mfa=session, reason=reason)
    out.print(f"{info.account_id}: tier {info.tier}, {info.quota.requests_per_minute} req/min")


@accounts_app.command("set-limits")
def accounts_set_limits(
    account_id: str = typer.Argument(...),
    rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute (omit: tier's)."),
    tpm: int | None = typer.Option(None, "--tpm", help="Tokens per minute (omit: tier's)."),
    acting: str = typer.Option(..., "--as", help="The admin granting it."),
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Override one account's per-minute limits (admin, second factor required)."""
    with _open(db_url, config) as (store, _):
        session = _need_mfa(store, acting, otp, recovery, "changing limits")
        info = store.set_limits(
            account_id, requests_per_minute=rpm, tokens_per_minute=tpm, mfa=session
        )
    out.print(
        f"{info.account_id}: {info.quota.requests_per_minute} req/min, "
        f"{info.quota.tokens_per_minute} tokens/min"
    )


@accounts_app.command("suspend")
def accounts_suspend(
    account_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Suspend an account: its keys stop working at once."""
    with _open(db_url, config) as (store, _):
        store.suspend_account(account_id, reason=reason)
    out.print(f"{account_id}: suspended")


@accounts_app.command("risk")
def accounts_risk(
    accounts: list[Path] = typer.Option(..., "--accounts", help="Spec accounts file(s)."),
    out_path: Path | None = typer.Option(None, "--out", help="Write JSONL (one row per account)."),
    top: int = typer.Option(20, "--top", help="How many of the riskiest to print."),
) -> None:
    """Score sign-up risk for an accounts file (no database needed)."""
    from distillguard.events.ingest import ingest
    from distillguard.identity.signup_risk import score_signups
    from distillguard.store import Store

    configure_logging()
    with Store.open() as dstore:
        ingest(dstore, events=(), accounts=accounts)
        table = dstore.con.sql("SELECT * FROM accounts ORDER BY account_id").to_arrow_table()
    result = score_signups(table)
    if out_path is not None:
        with out_path.open("wb") as fh:
            for r in result.accounts:
                row = {
                    "account_id": r.account_id,
                    "signup_risk": r.score,
                    "reasons": list(r.reasons),
                }
                fh.write(orjson.dumps(row) + b"\n")
    ranked = sorted(result.accounts, key=lambda r: (-r.score, r.account_id))[:top]
    view = Table("account", "risk", "reasons")
    for r in ranked:
        view.add_row(r.account_id, f"{r.score:.2f}", "; ".join(r.reasons) or "-")
    out.print(view)
    out.print(
        f"{len(result.accounts)} accounts, {sum(r.score >= 0.5 for r in result.accounts)} at risk "
        f">= 0.5, {len(result.groups)} shared-evidence groups"
    )


@accounts_app.command("outbox")
def accounts_outbox(
    account_id: str | None = typer.Argument(None),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Show messages the built-in sender queued (env=local only: the local stand-in for email)."""
    with _open(db_url, config) as (store, settings):
        if settings.env != "local":
            raise ConfigError("the outbox is a local-development mailbox; plug in a real Sender")
        for m in store.outbox(account_id):
            out.print(f"[{_when(m.created_at)}] {m.channel} to {m.recipient}: {m.subject}")
            out.print(f"  {m.body}")


@step_up_app.command("start")
def step_up_start(
    account_id: str = typer.Argument(...),
    to: str | None = typer.Option(None, "--to", help="Where to send the code (phone tier)."),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Start the next tier's check (sends a code, or opens a KYC session)."""
    with _open(db_url, config) as (store, _):
        challenge = store.start_step_up(account_id, destination=to)
    out.print(
        f"{account_id}: step-up to '{challenge.target_tier}' via {challenge.verifier}: "
        f"{challenge.instructions} (expires {_when(challenge.expires_at)} UTC)"
    )


@step_up_app.command("complete")
def step_up_complete(
    account_id: str = typer.Argument(...),
    code: str = typer.Option(..., "--code", prompt=True, hide_input=True),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Submit the code; on success the account moves up a tier and its quota follows."""
    with _open(db_url, config) as (store, _):
        info = store.complete_step_up(account_id, code)
    out.print(
        f"{account_id}: verified, tier now '{info.tier}' ({info.quota.requests_per_minute} req/min)"
    )


@audit_app.command("verify")
def audit_verify(db_url: str | None = DB_URL, config: Path | None = CONFIG) -> None:
    """Check the hash chain; names the first broken entry and exits 1 if there is one."""
    with _open(db_url, config) as (store, _):
        report = store.verify_audit_log()
    if report.first_break is None:
        out.print(
            f"audit log intact: {report.entries} entries, head {report.head_seq} {report.head}"
        )
        out.print("record the head hash somewhere else to detect a rewrite of the whole log")
        return
    out.print(
        f"audit log BROKEN at entry {report.first_break.seq}: {report.first_break.reason} "
        f"(entries before it check out; last good head {report.head_seq})",
        style="bold red",
    )
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    limit: int = typer.Option(20, "--limit"),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """The newest entries."""
    with _open(db_url, config) as (store, _):
        entries = store.audit_entries(limit=limit)
    table = Table("seq", "time (UTC)", "actor", "action", "target", "details")
    for e in entries:
        table.add_row(str(e.seq), _when(e.ts), e.actor, e.action, e.target, e.details)
    out.print(table)


# ---------------------------------------------------------------------------------------- keys


def _print_keys(keys: list[KeyInfo], now: datetime) -> None:
    table = Table("key id", "name", "scopes", "status", "created", "expires", "last used")
    for k in keys:
        table.add_row(
            k.key_id,
            k.name,
            " ".join(k.scopes),
            k.status(now),
            _when(k.created_at),
            _when(k.expires_at),
            _when(k.last_used_at),
        )
    out.print(table)


def _show_new_key(raw: str, info: KeyInfo) -> None:
    out.print(
        f"key {info.key_id} for {info.account_id} (scopes: {' '.join(info.scopes)}, "
        f"expires: {_when(info.expires_at)})"
    )
    out.print("shown once, store it now:")
    out.print(raw, soft_wrap=True)


@keys_app.command("create")
def keys_create(
    account_id: str = typer.Argument(...),
    name: str = typer.Option("default", "--name"),
    scope: list[str] = typer.Option(["inference"], "--scope", help="Repeatable."),
    expires_in: str | None = typer.Option(None, "--expires-in", help="e.g. 30d, 12h."),
    acting: str | None = ACTING,
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Create a key (second factor required); the key is printed once."""
    expires_s = _parse_duration(expires_in) if expires_in else None
    with _open(db_url, config) as (store, _):
        session = _need_mfa(store, acting or account_id, otp, recovery, "creating a key")
        new = store.create_key(
            account_id, mfa=session, name=name, scopes=scope, expires_in_s=expires_s
        )
    _show_new_key(new.raw_key, new.info)


@keys_app.command("list")
def keys_list(
    account_id: str = typer.Argument(...),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Keys of an account with status and last use (never the keys themselves)."""
    from datetime import UTC

    with _open(db_url, config) as (store, _):
        keys = store.list_keys(account_id)
    _print_keys(keys, datetime.now(UTC))


@keys_app.command("rotate")
def keys_rotate(
    key_id: str = typer.Argument(...),
    grace: str | None = typer.Option(None, "--grace", help="Keep the old key this long, e.g. 1h."),
    acting: str | None = ACTING,
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Replace a key (second factor required); the new key is printed once."""
    grace_s = _parse_duration(grace) if grace else 0.0
    with _open(db_url, config) as (store, _):
        owner = store.get_key(key_id).account_id
        session = _need_mfa(store, acting or owner, otp, recovery, "rotating a key")
        new = store.rotate_key(key_id, mfa=session, grace_s=grace_s)
    _show_new_key(new.raw_key, new.info)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason"),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Revoke a key now (no second factor: it only takes access away)."""
    with _open(db_url, config) as (store, _):
        info = store.revoke_key(key_id, reason=reason)
    out.print(f"key {info.key_id} of {info.account_id}: revoked")


# ----------------------------------------------------------------------------------------- mfa


def _print_recovery_codes(codes: Sequence[str]) -> None:
    out.print("recovery codes (shown once; each works once; keep them offline):")
    for c in codes:
        out.print(f"  {c}")


@mfa_app.command("enroll")
def mfa_enroll(
    account_id: str = typer.Argument(...),
    qr: bool = typer.Option(True, "--qr/--no-qr", help="Draw the QR code in the terminal."),
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Start TOTP enrolment: scan the QR code (or type the secret), then `mfa confirm`."""
    with _open(db_url, config) as (store, _):
        session = _mfa(store, account_id, otp, recovery)
        enrolment = store.enroll_totp(account_id, mfa=session)
    if qr:
        out.print(totp.qr_text(enrolment.uri), soft_wrap=True)
    out.print(f"provisioning URI (shown once): {enrolment.uri}", soft_wrap=True)
    out.print(f"confirm with `distillguard mfa confirm {account_id} --code CODE`")


@mfa_app.command("confirm")
def mfa_confirm(
    account_id: str = typer.Argument(...),
    code: str = typer.Option(..., "--code", help="The app's current code."),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Finish TOTP enrolment; prints recovery codes once when this is the first factor."""
    with _open(db_url, config) as (store, _):
        confirmation = store.confirm_totp(account_id, code)
    out.print(f"{account_id}: TOTP confirmed")
    if confirmation.recovery_codes:
        _print_recovery_codes(confirmation.recovery_codes)


@mfa_app.command("verify")
def mfa_verify(
    account_id: str = typer.Argument(...),
    code: str = typer.Option(..., "--code"),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Check a TOTP code (counts toward lockout like any attempt)."""
    with _open(db_url, config) as (store, _):
        session = store.verify_totp(account_id, code)
        store.end_mfa_session(session)
    out.print(f"{account_id}: code accepted")


@mfa_app.command("recovery-codes")
def mfa_recovery_codes(
    account_id: str = typer.Argument(...),
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Issue a new set of recovery codes (old ones stop working); printed once."""
    with _open(db_url, config) as (store, _):
        session = _need_mfa(store, account_id, otp, recovery, "new recovery codes")
        codes = store.regenerate_recovery_codes(account_id, mfa=session)
    _print_recovery_codes(codes)


@mfa_app.command("webauthn-begin")
def mfa_webauthn_begin(
    account_id: str = typer.Argument(...),
    login: bool = typer.Option(False, "--login", help="An authentication (not registration)."),
    otp: str | None = OTP,
    recovery: str | None = RECOVERY,
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Print WebAuthn options JSON for the browser, and the challenge id to finish with."""
    with _open(db_url, config) as (store, _):
        if login:
            challenge_id, options = store.begin_webauthn_authentication(account_id)
        else:
            session = _mfa(store, account_id, otp, recovery)
            challenge_id, options = store.begin_webauthn_registration(account_id, mfa=session)
    out.print(
        orjson.dumps({"challenge_id": challenge_id, "options": orjson.loads(options)}).decode(),
        soft_wrap=True,
    )


@mfa_app.command("webauthn-finish")
def mfa_webauthn_finish(
    account_id: str = typer.Argument(...),
    challenge_id: str = typer.Argument(...),
    response: Path = typer.Option(..., "--response", help="The browser's credential JSON."),
    login: bool = typer.Option(False, "--login"),
    name: str = typer.Option("security key", "--name"),
    db_url: str | None = DB_URL,
    config: Path | None = CONFIG,
) -> None:
    """Finish a WebAuthn registration (or --login authentication) with the browser's answer."""
    try:
        body = response.read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityError(
            f"{response}: cannot read the WebAuthn response ({exc.strerror})"
        ) from exc
    with _open(db_url, config) as (store, _):
        if login:
            session = store.verify_webauthn(account_id, challenge_id, body)
            store.end_mfa_session(session)
            out.print(f"{account_id}: security key accepted")
            return
        confirmation = store.finish_webauthn_registration(account_id, challenge_id, body, name=name)
    out.print(f"{account_id}: security key registered")
    if confirmation.recovery_codes:
        _print_recovery_codes(confirmation.recovery_codes)


def register(app: typer.Typer) -> None:
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(keys_app, name="keys")
    app.add_typer(mfa_app, name="mfa")
