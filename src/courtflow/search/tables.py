"""Tables of search hits: one per type, plus the matches of each scope.

A hit is stored once per type under its own identity (cluster id for ``o``, docket id
for ``r``/``d``, document id for ``rd``, person id for ``p``, audio id for ``oa``), so
two scopes that share a hit share its row; which scopes matched it is kept in
``cl_search_matches``, one row per (type, scope, hit). Migration ``0013_search`` holds a
frozen copy of these shapes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Integer, Table, Text

from courtflow.search.form import TYPES
from courtflow.store.coltypes import UTCDateTime, json_type
from courtflow.store.metadata import metadata


def _hit_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        # BIGINT as elsewhere (RECAP ids pass 2**31); INTEGER is SQLite's rowid alias.
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
               autoincrement=False),
        Column("hit_date", Date(), nullable=True, index=True),  # the type's own date
        # meta.timestamp: when the server last indexed the hit (moves when it is edited).
        Column("indexed_at", UTCDateTime(), nullable=True),
        Column("date_created", UTCDateTime(), nullable=True),
        Column("record", json_type(), nullable=False),  # the hit without its children
        Column("children", json_type(), nullable=True),  # nested opinions, documents...
        Column("content_hash", Text(), nullable=False),
        Column("run_id", Text(), nullable=True),
        Column("loaded_at", UTCDateTime(), nullable=False),
    )  # fmt: skip


HIT_TABLES: dict[str, Table] = {code: _hit_table(t.table) for code, t in TYPES.items()}

search_matches = Table(
    "cl_search_matches",
    metadata,
    Column("type", Text(), primary_key=True),
    Column("scope", Text(), primary_key=True),  # SearchScope.key
    Column("hit_id", BigInteger(), primary_key=True),
    Column("first_run_id", Text(), nullable=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
)
