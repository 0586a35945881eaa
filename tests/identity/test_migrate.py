from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from distillguard.identity import IdentityStore, ServerSecret
from distillguard.identity.migrate import MIGRATIONS_DIR, current_revision, head_revision
from distillguard.identity.tables import Base
from tests.identity.conftest import PG_ADMIN_URL, Clock, enrol_totp, fast_settings


def test_migrations_build_exactly_the_model(store: IdentityStore) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Type comparisons: UtcDateTime is DateTime(timezone=True) underneath.
    real = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert real == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_at_0001(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An identity database migrated only to 0001 (a deployment from before sign-up risk)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'identity.sqlite'}"
        schema = None
    else:
        schema = f"dg_identity_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (account_id, verification, is_admin, created_at, signup_ip) "
                "VALUES ('legacy', 'none', false, :t, '203.0.113.5')"
            ),
            {"t": datetime(2026, 1, 5, tzinfo=UTC)},
        )
    engine.dispose()
    try:
        yield url
    finally:
        if schema is not None:
            admin = create_engine(PG_ADMIN_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_upgrade_from_0001_keeps_accounts_unscored_and_scores_new_ones(
    db_at_0001: str, server_secret: ServerSecret, clock: Clock
) -> None:
    with IdentityStore.open(
        db_at_0001, settings=fast_settings(), secret=server_secret, clock=clock
    ) as store:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_type")] == []
        assert store.get_account("legacy").account_id == "legacy"
        enrolled = enrol_totp(store, clock, "legacy")
        key = store.create_key("legacy", mfa=enrolled.confirmation.session)
        assert store.authenticate_key(key.raw_key).signup_risk is None
        store.create_account("fresh", signup_ip="198.51.100.9")
        fresh_key = store.create_key(
            "fresh", mfa=enrol_totp(store, clock, "fresh").confirmation.session
        )
        assert store.authenticate_key(fresh_key.raw_key).signup_risk == 0.0
