"""Deletions: a ``deleted_at`` mark on every resource table, and the ids an export held.

Revision ID: 0011_deletions
Revises: 0014_admit_now (written on 0009_bookings; re-chained after main gained 0010, 0013, 0014)
Create Date: 2026-12-07

- ``deleted_at`` (nullable): when courtflow found that the server no longer has the row
  (absent from a newer full export, or confirmed gone by ``courtflow audit --repair``).
  Rows are never removed unless asked (``audit --purge``); live rows are
  ``WHERE deleted_at IS NULL``.
- ``bulk_seen_ids``: the ids a bootstrap read from one export file, committed with each
  chunk (so a resumed load still knows them), compared with the table once the file is
  loaded, then emptied.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_deletions"
down_revision: str | None = "0014_admit_now"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# Frozen: the resource tables that exist at this revision.
RESOURCE_TABLES: tuple[str, ...] = (
    "cl_aba_ratings", "cl_agreements", "cl_attorneys", "cl_audio", "cl_bankruptcy_information",
    "cl_clusters", "cl_courts", "cl_debts", "cl_disclosure_positions", "cl_docket_entries",
    "cl_dockets", "cl_educations", "cl_financial_disclosures", "cl_fjc_integrated_database",
    "cl_gifts", "cl_investments", "cl_non_investment_incomes", "cl_opinions",
    "cl_opinions_cited", "cl_originating_court_information", "cl_parties", "cl_people",
    "cl_political_affiliations", "cl_positions", "cl_recap_documents", "cl_reimbursements",
    "cl_retention_events", "cl_schools", "cl_sources", "cl_spouse_incomes", "cl_tag",
)  # fmt: skip


def upgrade() -> None:
    for name in RESOURCE_TABLES:
        # A nullable column without a default: no table rewrite on PostgreSQL.
        op.add_column(name, sa.Column("deleted_at", TS, nullable=True))
    op.create_table(
        "bulk_seen_ids",
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False, server_default=""),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
    )
    # What the comparison with the table looks up (one file's ids).
    op.create_index(
        "ix_bulk_seen_ids_file", "bulk_seen_ids", ["resource", "scope", "file", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_bulk_seen_ids_file", table_name="bulk_seen_ids")
    op.drop_table("bulk_seen_ids")
    for name in RESOURCE_TABLES:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("deleted_at")
