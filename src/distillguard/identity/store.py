"""The identity store: accounts, organisations, tiers, API keys, MFA, step-up and the admin
audit log, on SQLAlchemy 2 (SQLite file by default, PostgreSQL in production).

Open it with :meth:`IdentityStore.open`; migrations run on open. Every privileged operation
(creating keys, raising limits, re-enrolling factors) takes an :class:`MfaSession` token proving
a second factor was just passed, so the rule holds for the CLI, the console and any other
caller alike. Every admin action is appended to the hash-chained audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import structlog
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from distillguard.errors import ConfigError, StoreError
from distillguard.events.records import Verification
from distillguard.identity.migrate import upgrade
from distillguard.identity.secret import ServerSecret, load_or_create_secret_file
from distillguard.identity.stepup import Sender, Verifier
from distillguard.identity.store_accounts import AccountsMixin
from distillguard.identity.store_base import StoreBase, _utcnow
from distillguard.identity.store_keys import KeysMixin
from distillguard.identity.store_mfa import MfaMixin
from distillguard.identity.store_stepup import OutboxEntry, StepUpMixin
from distillguard.identity.tables import StoreMeta
from distillguard.settings import Settings, load_settings

__all__ = ["IdentityStore", "OutboxEntry", "resolve_secret"]

log = structlog.get_logger(__name__)


def resolve_secret(settings: Settings, database_url: str) -> ServerSecret:
    """The server secret from settings; locally, a generated file next to the SQLite database.

    Outside ``env="local"`` a missing secret is refused: generating one silently on a server
    would tie every key to a file nobody backs up.
    """
    ident = settings.identity
    if ident.secret_key is not None:
        return ServerSecret.from_text(ident.secret_key.get_secret_value())
    if settings.env != "local":
        raise ConfigError(
            "DISTILLGUARD_IDENTITY__SECRET_KEY is not set; outside env=local the identity store "
            "needs an explicit random secret of at least 32 bytes (keep it in your secret manager "
            "and back it up: losing it invalidates every API key and TOTP enrolment)"
        )
    path = ident.secret_file
    if path is None:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(f"{url.database}.secret")
        else:
            path = Path("distillguard-identity.secret")
    return load_or_create_secret_file(path)


class IdentityStore(AccountsMixin, MfaMixin, KeysMixin, StepUpMixin, StoreBase):
    """Accounts, keys, MFA, step-up and the audit log over one SQLAlchemy engine.

    Thread-safe for the gateway's use (``authenticate_key``); other operations open a short
    transaction each. ``clock`` is injectable so tests can move time.
    """

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        secret: ServerSecret | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sender: Sender | None = None,
        verifiers: Mapping[Verification, Verifier] | None = None,
    ) -> IdentityStore:
        """Connect, migrate to the newest schema, and check the server secret fits the data.

        ``database_url`` defaults to ``settings.identity.database_url``; ``secret`` to
        :func:`resolve_secret`.
        """
        settings = settings or load_settings()
        url = database_url or settings.identity.database_url
        if secret is None:
            secret = resolve_secret(settings, url)
        engine = _make_engine(url)
        try:
            upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StoreError(
                f"identity database {make_url(url).render_as_string(hide_password=True)}: "
                f"cannot open or migrate ({exc.orig}); check the URL and that the server runs"
            ) from exc
        read_engine = None
        if engine.dialect.name != "sqlite":
            read_engine = _make_engine(url, isolation_level="AUTOCOMMIT")
        store = cls(
            engine,
            secret,
            settings.identity,
            clock=clock,
            sender=sender,
            verifiers=verifiers,
            read_engine=read_engine,
        )
        try:
            store._check_secret()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._join_flushes()
        self.flush_last_used()
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    def _check_secret(self) -> None:
        fingerprint = self._secret.fingerprint()
        with self._sessions.begin() as s:
            row = s.get(StoreMeta, "secret_fingerprint")
            if row is None:
                s.add(StoreMeta(key="secret_fingerprint", value=fingerprint))
            elif not secrets.compare_digest(row.value, fingerprint):
                raise ConfigError(
                    "the identity server secret does not match the one this database was "
                    "created with; set DISTILLGUARD_IDENTITY__SECRET_KEY (or secret_file) to the "
                    "original secret"
                )


def _make_engine(url: str, **extra: Any) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = dict(extra)
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # No pre-ping: it would add a round trip to every API-key check. A connection the server
        # dropped fails once, is invalidated, and authenticate_key retries on a fresh one.
        kwargs["pool_recycle"] = 1800
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if parsed.database not in (None, "", ":memory:"):
                # WAL lets readers (the gateway) run while a writer commits.
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine
