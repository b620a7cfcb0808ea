"""Records the target could not store: ``sync_rejects``.

Revision ID: 0006_rejects
Revises: 0008_usage
Create Date: 2026-11-30

One row per distinct rejected record of a scope (keyed by a hash of its raw text), so
refetching the same page does not add it twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_rejects"
down_revision: str | None = "0008_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_rejects",
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False, server_default=""),
        sa.Column("raw_hash", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("rejected_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("resource", "scope", "raw_hash", name=op.f("pk_sync_rejects")),
    )
    op.create_index("ix_sync_rejects_run_id", "sync_rejects", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_rejects_run_id", table_name="sync_rejects")
    op.drop_table("sync_rejects")
