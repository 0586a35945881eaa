"""Identity fixtures: every store test runs on SQLite (tmp_path) and on the real PostgreSQL.

PostgreSQL isolation: each test gets its own schema (search_path in the URL), dropped after, so
parallel runs and other engineers' tests never collide.
"""

from __future__ import annotations

import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from distillguard.identity import IdentityStore, ServerSecret, totp
from distillguard.identity.migrate import upgrade
from distillguard.identity.models import FactorConfirmation
from distillguard.identity.tables import Base
from distillguard.settings import Settings

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Clock:
    """A settable clock; starts at real time so TOTP codes computed from it are real codes."""

    def __init__(self) -> None:
        self.now = datetime.fromtimestamp(int(time.time()) // 30 * 30 + 1, UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fast_settings(**identity: object) -> Settings:
    """Real settings with a cheap scrypt cost so tests stay fast on two cores."""
    return Settings(identity={"scrypt_log2_n": 10, **identity})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server_secret() -> ServerSecret:
    return ServerSecret.from_text(secrets.token_urlsafe(48))


@pytest.fixture(scope="session")
def pg_session_schema() -> Iterator[str]:
    """One migrated schema per test session; tests empty it instead of re-migrating."""
    schema = f"dg_identity_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the server is down: say so instead of erroring obscurely
        admin.dispose()
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_url(pg_session_schema: str) -> str:
    engine = create_engine(pg_session_schema)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_session_schema


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("identity-template") / "identity.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty identity database: a copy of a template file, or an emptied schema."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "identity.sqlite"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def store(db_url: str, server_secret: ServerSecret, clock: Clock) -> Iterator[IdentityStore]:
    st = IdentityStore.open(db_url, settings=fast_settings(), secret=server_secret, clock=clock)
    try:
        yield st
    finally:
        st.close()


@dataclass
class Enrolled:
    account_id: str
    seed: bytes
    confirmation: FactorConfirmation


def enrol_totp(store: IdentityStore, clock: Clock, account_id: str) -> Enrolled:
    enrolment = store.enroll_totp(account_id)
    seed = totp.seed_from_base32(enrolment.secret_base32)
    confirmation = store.confirm_totp(account_id, totp.totp(seed, clock.now.timestamp()))
    return Enrolled(account_id, seed, confirmation)


def next_code(enrolled: Enrolled, clock: Clock) -> str:
    """Move the clock to the next 30 s step and return that step's code (no replay)."""
    clock.advance(30)
    return totp.totp(enrolled.seed, clock.now.timestamp())


@pytest.fixture
def admin(store: IdentityStore, clock: Clock) -> Enrolled:
    store.create_account("root", email="root@example.com", admin=True)
    return enrol_totp(store, clock, "root")
