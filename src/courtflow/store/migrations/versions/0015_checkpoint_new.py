"""Checkpoints count the rows a window's run inserted (``new``) beside those it wrote.

Revision ID: 0015_checkpoint_new
Revises: 0011_deletions
Create Date: 2026-12-07

A task retried or resumed after a deferral reports what its whole run stored (new,
changed, unchanged rows). ``rows`` (written) and ``records`` (read) were kept per
window already; ``new`` completes the split: changed = rows - new, unchanged =
records - rows - rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_checkpoint_new"
down_revision: str | None = "0011_deletions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sync_checkpoints", sa.Column("new", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_checkpoints") as batch:
        batch.drop_column("new")
