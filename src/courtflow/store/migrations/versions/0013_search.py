"""Search hits: ``cl_search_<type>`` per search type, ``cl_search_matches``, ``cl_tag``.

Revision ID: 0013_search
Revises: 0009_bookings
Create Date: 2026-12-07

- ``cl_search_o``, ``_r``, ``_rd``, ``_d``, ``_p``, ``_oa``: one row per hit, keyed by
  the hit's own identity (courtflow.search.tables), with the record, its nested children
  and the server's index time (``meta.timestamp``);
- ``cl_search_matches``: which scope matched which hit (one row per type, scope, hit);
- ``cl_tag``: the ``tag/`` list added to the catalogue (a resource table like the others).

Frozen: the shapes are written out here, not imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_search"
down_revision: str | None = "0012_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TYPES = ("o", "r", "rd", "d", "p", "oa")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _key() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for code in TYPES:
        name = f"cl_search_{code}"
        op.create_table(
            name,
            sa.Column("id", _key(), autoincrement=False, nullable=False),
            sa.Column("hit_date", sa.Date(), nullable=True),
            sa.Column("indexed_at", TS, nullable=True),
            sa.Column("date_created", TS, nullable=True),
            sa.Column("record", _json(), nullable=False),
            sa.Column("children", _json(), nullable=True),
            sa.Column("content_hash", sa.Text(), nullable=False),
            sa.Column("run_id", sa.Text(), nullable=True),
            sa.Column("loaded_at", TS, nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        )
        op.create_index(op.f(f"ix_{name}_hit_date"), name, ["hit_date"])
    op.create_table(
        "cl_search_matches",
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("hit_id", sa.BigInteger(), nullable=False),
        sa.Column("first_run_id", sa.Text(), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint("type", "scope", "hit_id", name=op.f("pk_cl_search_matches")),
    )
    op.create_table(
        "cl_tag",
        sa.Column("id", _key(), autoincrement=False, nullable=False),
        sa.Column("date_created", TS, nullable=True),
        sa.Column("date_modified", TS, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("loaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cl_tag")),
    )
    op.create_index(op.f("ix_cl_tag_date_modified"), "cl_tag", ["date_modified"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cl_tag_date_modified"), table_name="cl_tag")
    op.drop_table("cl_tag")
    op.drop_table("cl_search_matches")
    for code in reversed(TYPES):
        name = f"cl_search_{code}"
        op.drop_index(op.f(f"ix_{name}_hit_date"), table_name=name)
        op.drop_table(name)
