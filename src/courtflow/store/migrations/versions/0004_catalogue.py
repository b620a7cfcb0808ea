"""Tables of the full endpoint catalogue (every public v4 list endpoint).

Revision ID: 0004_catalogue
Revises: 0003_scopes
Create Date: 2026-11-30

A frozen copy of the shapes courtflow/store/tables.py derives from the catalogue for the
resources added at this revision; the seven tables of 0001_store are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_catalogue"
down_revision: str | None = "0003_scopes"
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
    "cl_originating_court_information": (INT_KEY, [
        ("docket_number", TEXT), ("assigned_to_id", BIG), ("court_reporter", TEXT),
        ("date_filed", DATE), ("date_disposed", DATE),
    ], ["assigned_to_id"]),
    "cl_bankruptcy_information": (INT_KEY, [
        ("docket_id", BIG), ("chapter", TEXT), ("trustee_str", TEXT),
    ], ["docket_id"]),
    "cl_audio": (INT_KEY, [
        ("docket_id", BIG), ("case_name", TEXT), ("source", TEXT), ("duration", BIG),
        ("sha1", TEXT), ("processing_complete", BOOL), ("download_url", TEXT),
    ], ["docket_id"]),
    "cl_opinions_cited": (INT_KEY, [
        ("citing_opinion_id", BIG), ("cited_opinion_id", BIG), ("depth", BIG),
    ], ["citing_opinion_id", "cited_opinion_id"]),
    "cl_positions": (INT_KEY, [
        ("person_id", BIG), ("court_id", TEXT), ("appointer_id", BIG), ("position_type", TEXT),
        ("job_title", TEXT), ("date_start", DATE), ("date_termination", DATE),
        ("how_selected", TEXT),
    ], ["person_id", "court_id", "appointer_id"]),
    "cl_retention_events": (INT_KEY, [
        ("position_id", BIG), ("retention_type", TEXT), ("date_retention", DATE),
        ("won", BOOL), ("unopposed", BOOL),
    ], ["position_id"]),
    "cl_educations": (INT_KEY, [
        ("person_id", BIG), ("school_id", BIG), ("degree_level", TEXT),
        ("degree_detail", TEXT), ("degree_year", BIG),
    ], ["person_id", "school_id"]),
    "cl_schools": (INT_KEY, [
        ("name", TEXT), ("ein", BIG), ("is_alias_of_id", BIG),
    ], ["is_alias_of_id"]),
    "cl_political_affiliations": (INT_KEY, [
        ("person_id", BIG), ("political_party", TEXT), ("source", TEXT), ("date_start", DATE),
        ("date_end", DATE),
    ], ["person_id"]),
    "cl_sources": (INT_KEY, [
        ("person_id", BIG), ("url", TEXT), ("date_accessed", DATE),
    ], ["person_id"]),
    "cl_aba_ratings": (INT_KEY, [
        ("person_id", BIG), ("year_rated", BIG), ("rating", TEXT),
    ], ["person_id"]),
    "cl_parties": (INT_KEY, [
        ("name", TEXT), ("extra_info", TEXT),
    ], []),
    "cl_attorneys": (INT_KEY, [
        ("name", TEXT), ("email", TEXT), ("phone", TEXT),
    ], []),
    "cl_fjc_integrated_database": (INT_KEY, [
        ("dataset_source", BIG), ("circuit_id", TEXT), ("district_id", TEXT),
        ("docket_number", TEXT), ("origin", BIG), ("date_filed", DATE), ("jurisdiction", BIG),
        ("nature_of_suit", BIG), ("plaintiff", TEXT), ("defendant", TEXT),
        ("date_terminated", DATE),
    ], ["circuit_id", "district_id"]),
    "cl_financial_disclosures": (INT_KEY, [
        ("person_id", BIG), ("year", BIG), ("report_type", BIG), ("is_amended", BOOL),
        ("page_count", BIG), ("sha1", TEXT), ("has_been_extracted", BOOL),
    ], ["person_id"]),
    "cl_agreements": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("parties_and_terms", TEXT),
        ("date_raw", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_debts": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("creditor_name", TEXT),
        ("description", TEXT), ("value_code", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_gifts": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("source", TEXT),
        ("description", TEXT), ("value", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_investments": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("description", TEXT),
        ("gross_value_code", TEXT), ("income_during_reporting_period_code", TEXT),
        ("transaction_value_code", TEXT), ("transaction_date", DATE),
    ], ["financial_disclosure_id"]),
    "cl_non_investment_incomes": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("source_type", TEXT),
        ("income_amount", TEXT), ("date_raw", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_disclosure_positions": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("position", TEXT),
        ("organization_name", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_reimbursements": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("source", TEXT),
        ("location", TEXT), ("purpose", TEXT), ("date_raw", TEXT),
    ], ["financial_disclosure_id"]),
    "cl_spouse_incomes": (INT_KEY, [
        ("financial_disclosure_id", BIG), ("redacted", BOOL), ("source_type", TEXT),
        ("date_raw", TEXT),
    ], ["financial_disclosure_id"]),
}


def upgrade() -> None:
    for name, (key, typed, indexed) in RESOURCE_TABLES.items():
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


def downgrade() -> None:
    for name in reversed(list(RESOURCE_TABLES)):
        op.drop_table(name)  # drops its indexes with it
