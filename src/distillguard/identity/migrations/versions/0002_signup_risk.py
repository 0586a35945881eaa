"""Accounts: the sign-up risk scored at creation, its reasons, and an index on created_at.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: existing accounts keep NULL (not scored), so the upgrade is an
    # ALTER TABLE ADD COLUMN on both SQLite and PostgreSQL, with no table rebuild.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signup_risk", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("signup_risk_reasons", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_created_at"))
        batch_op.drop_column("signup_risk_reasons")
        batch_op.drop_column("signup_risk")
