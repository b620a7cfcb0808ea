"""Checkpoints and watermarks per scope (a resource plus its server-side filters).

Revision ID: 0003_scopes
Revises: 0002_budget
Create Date: 2026-11-30

Existing rows belong to the whole resource, whose scope key is "". SQLite cannot alter
a primary key in place, so both tables are rebuilt with Alembic's batch mode there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_scopes"
down_revision: str | None = "0002_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {
    "sync_checkpoints": (["resource", "window_start", "window_end"],
                         ["resource", "scope", "window_start", "window_end"]),
    "sync_watermarks": (["resource"], ["resource", "scope"]),
}


def upgrade() -> None:
    for table, (_old, new) in _KEYS.items():
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.add_column(sa.Column("scope", sa.Text(), nullable=False, server_default=""))
            batch.create_primary_key(f"pk_{table}", new)


def downgrade() -> None:
    # Only the whole-resource scope survives a downgrade: the old key cannot hold others.
    for table, (old, _new) in _KEYS.items():
        op.execute(sa.text(f"DELETE FROM {table} WHERE scope <> ''"))
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.drop_column("scope")
            batch.create_primary_key(f"pk_{table}", old)
