"""The store: one table per resource, sync checkpoints and watermarks.

Revision ID: 0001_store
Revises:
Create Date: 2026-05-01

A frozen copy of the shapes in courtflow/store/tables.py as they were at this revision:
later changes to the resource catalogue need a new migration, not an edit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_store"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TEXT = sa.Text()
BIG = sa.BigInteger()
BOOL = sa.Boolean()
DATE = sa.Date()
INT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TEXT_KEY = sa.Text()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# table -> (key type, typed columns, indexed typed columns)
RESOURCE_TABLES: dict[str, tuple[Any, list[tuple[str, Any]], list[str]]] = {
    "cl_courts": (TEXT_KEY, [
        ("short_name", TEXT), ("full_name", TEXT), ("jurisdiction", TEXT), ("in_use", BOOL),
        ("citation_string", TEXT), ("start_date", DATE), ("end_date", DATE),
    ], []),
    "cl_dockets": (INT_KEY, [
        ("court_id", TEXT), ("docket_number", TEXT), ("case_name", TEXT), ("date_filed", DATE),
        ("date_terminated", DATE), ("source", BIG), ("pacer_case_id", TEXT),
    ], ["court_id", "pacer_case_id"]),
    "cl_clusters": (INT_KEY, [
        ("docket_id", BIG), ("case_name", TEXT), ("date_filed", DATE),
        ("precedential_status", TEXT), ("citation_count", BIG), ("judges", TEXT),
    ], ["docket_id"]),
    "cl_opinions": (INT_KEY, [
        ("cluster_id", BIG), ("type", TEXT), ("author_id", BIG), ("per_curiam", BOOL),
        ("sha1", TEXT), ("download_url", TEXT),
    ], ["cluster_id", "author_id"]),
    "cl_docket_entries": (INT_KEY, [
        ("docket_id", BIG), ("entry_number", BIG), ("date_filed", DATE), ("description", TEXT),
    ], ["docket_id"]),
    "cl_recap_documents": (INT_KEY, [
        ("docket_entry_id", BIG), ("document_number", TEXT), ("document_type", BIG),
        ("page_count", BIG), ("is_available", BOOL), ("description", TEXT),
    ], ["docket_entry_id"]),
    "cl_people": (INT_KEY, [
        ("name_first", TEXT), ("name_last", TEXT), ("gender", TEXT), ("date_dob", DATE),
        ("fjc_id", BIG), ("slug", TEXT),
    ], ["fjc_id"]),
}


def _create_resource_table(
    name: str, key: Any, typed: list[tuple[str, Any]], indexed: list[str]
) -> None:
    op.create_table(
        name,
        sa.Column("id", key, nullable=False, autoincrement=False),
        sa.Column("date_created", TS, nullable=True),
        sa.Column("date_modified", TS, nullable=False),
        *(sa.Column(col, col_type, nullable=True) for col, col_type in typed),
        sa.Column("data", JSON, nullable=False),
        sa.Column("content_hash", TEXT, nullable=False),
        sa.Column("run_id", TEXT, nullable=True),
        sa.Column("loaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    for col in ["date_modified", *indexed]:
        op.create_index(op.f(f"ix_{name}_{col}"), name, [col])


def upgrade() -> None:
    for name, (key, typed, indexed) in RESOURCE_TABLES.items():
        _create_resource_table(name, key, typed, indexed)
    op.create_table(
        "sync_checkpoints",
        sa.Column("resource", TEXT, nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("next_url", TEXT, nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("rows", BIG, nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("done", BOOL, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("run_id", TEXT, nullable=True),
        sa.PrimaryKeyConstraint(
            "resource", "window_start", "window_end", name=op.f("pk_sync_checkpoints")
        ),
    )
    op.create_table(
        "sync_watermarks",
        sa.Column("resource", TEXT, nullable=False),
        sa.Column("watermark", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("run_id", TEXT, nullable=True),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_sync_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("sync_watermarks")
    op.drop_table("sync_checkpoints")
    for name in reversed(list(RESOURCE_TABLES)):
        op.drop_table(name)  # drops its indexes with it
