from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from distillguard.identity import IdentityStore
from distillguard.identity.migrate import current_revision, head_revision
from distillguard.identity.tables import Base


def test_migrations_build_exactly_the_model(store: IdentityStore) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Type comparisons: UtcDateTime is DateTime(timezone=True) underneath.
    real = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert real == []
