"""Tables of the target database: one per resource, plus sync checkpoints and watermarks.

Checkpoints and watermarks are kept per scope (a resource plus its filters).

Resource tables are derived from :data:`courtflow.catalogue.resources.RESOURCES`; migration
``0001_store`` holds a frozen copy of the same shapes, and an integration test checks
that the migrated database and these definitions agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, Table, Text
from sqlalchemy.types import TypeEngine

from courtflow.catalogue.resources import RESOURCES, ColumnType, ResourceSpec
from courtflow.store.coltypes import UTCDateTime, json_type
from courtflow.store.metadata import metadata

# Columns every resource table has; a typed column of the catalogue may not reuse them.
BASE_COLUMNS: tuple[str, ...] = (
    "id", "date_created", "date_modified", "data", "content_hash", "run_id", "loaded_at",
    "deleted_at",
)

SQL_TYPES: dict[ColumnType, Callable[[], TypeEngine[Any]]] = {
    "text": Text,
    "int": BigInteger,
    "bool": Boolean,
    "date": Date,
    "datetime": UTCDateTime,
}


def _key_type(spec: ResourceSpec) -> TypeEngine[Any]:
    if spec.key_type == "text":
        return Text()
    # INTEGER PRIMARY KEY is SQLite's rowid alias (no second index); BIGINT elsewhere
    # because RECAP ids are heading past 2**31.
    return BigInteger().with_variant(Integer(), "sqlite")


def is_indexed(column_name: str) -> bool:
    """Link ids (court_id, docket_id, cluster_id, ...) are what downstream joins on."""
    return column_name.endswith("_id")


def _resource_table(spec: ResourceSpec) -> Table:
    clashes = {c.name for c in spec.columns} & set(BASE_COLUMNS)
    if clashes:
        raise ValueError(f"resource {spec.name}: columns {sorted(clashes)} are reserved")
    typed = [
        Column(c.name, SQL_TYPES[c.type](), nullable=True, index=is_indexed(c.name))
        for c in spec.columns
    ]
    return Table(
        spec.table,
        metadata,
        Column("id", _key_type(spec), primary_key=True, autoincrement=False),
        Column("date_created", UTCDateTime(), nullable=True),
        Column("date_modified", UTCDateTime(), nullable=False, index=True),
        *typed,
        Column("data", json_type(), nullable=False),
        Column("content_hash", Text(), nullable=False),
        Column("run_id", Text(), nullable=True),
        Column("loaded_at", UTCDateTime(), nullable=False),
        # When courtflow found the server no longer has the row (courtflow.store.deletions);
        # NULL for a live row. Rows are never removed unless asked (audit --purge).
        Column("deleted_at", UTCDateTime(), nullable=True),
    )


RESOURCE_TABLES: dict[str, Table] = {
    name: _resource_table(spec) for name, spec in RESOURCES.items()
}


def resource_table(spec: ResourceSpec | str) -> Table:
    """The table of a resource, by spec or by resource name."""
    return RESOURCE_TABLES[spec if isinstance(spec, str) else spec.name]


sync_checkpoints = Table(
    "sync_checkpoints",
    metadata,
    Column("resource", Text(), primary_key=True),
    # The scope's canonical filters (courtflow.catalogue.scope.Scope.key); "" is the whole resource.
    Column("scope", Text(), primary_key=True, server_default=""),
    Column("window_start", UTCDateTime(), primary_key=True),
    Column("window_end", UTCDateTime(), primary_key=True),
    Column("next_url", Text(), nullable=True),
    Column("pages", Integer(), nullable=False),
    Column("rows", BigInteger(), nullable=False),
    Column("calls", Integer(), nullable=False),
    Column("done", Boolean(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("run_id", Text(), nullable=True),
    # Records read and records rejected in the window so far (0010_ranges).
    Column("records", BigInteger(), nullable=False, server_default="0"),
    Column("rejected", BigInteger(), nullable=False, server_default="0"),
    Column("new", BigInteger(), nullable=False, server_default="0"),
)

sync_watermarks = Table(
    "sync_watermarks",
    metadata,
    Column("resource", Text(), primary_key=True),
    Column("scope", Text(), primary_key=True, server_default=""),
    Column("watermark", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("run_id", Text(), nullable=True),
)

# What each scope has loaded: merged [range_start, range_end) of date_modified
# (courtflow.store.state.record_range); the watermark is derived from them.
sync_ranges = Table(
    "sync_ranges",
    metadata,
    Column("resource", Text(), primary_key=True),
    Column("scope", Text(), primary_key=True, server_default=""),
    Column("range_start", UTCDateTime(), primary_key=True),
    Column("range_end", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("run_id", Text(), nullable=True),
)

# Records the target could not store as sent (courtflow.store.rejects).
sync_rejects = Table(
    "sync_rejects",
    metadata,
    Column("resource", Text(), primary_key=True),
    Column("scope", Text(), primary_key=True, server_default=""),
    Column("raw_hash", Text(), primary_key=True),
    Column("record_key", Text(), nullable=True),
    Column("reason", Text(), nullable=False),
    Column("page_url", Text(), nullable=True),
    Column("raw", Text(), nullable=False),
    Column("run_id", Text(), nullable=True, index=True),
    Column("rejected_at", UTCDateTime(), nullable=False),
)

# One row per export file a bootstrap loaded into one scope (courtflow.bootstrap): the
# resume point (decompressed byte offset and line of the last committed chunk) and the
# record that the load spent no API call (api_calls stays 0; the call ledger is untouched,
# so a bulk load never counts against the budget).
bulk_loads = Table(
    "bulk_loads",
    metadata,
    Column("resource", Text(), primary_key=True),
    Column("scope", Text(), primary_key=True, server_default=""),
    Column("file", Text(), primary_key=True),
    Column("location", Text(), nullable=False),
    Column("export_date", Date(), nullable=True),
    Column("status", Text(), nullable=False),
    Column("byte_offset", BigInteger(), nullable=False),
    Column("line", BigInteger(), nullable=False),
    Column("rows_read", BigInteger(), nullable=False),
    Column("rows_written", BigInteger(), nullable=False),
    Column("api_calls", Integer(), nullable=False, server_default="0"),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("run_id", Text(), nullable=True),
    Column("error", Text(), nullable=True),
)

# The ids one export file held, per chunk committed (migration 0011_deletions): once the
# file is loaded, rows of its scope missing from it are marked deleted, then these go.
bulk_seen_ids = Table(
    "bulk_seen_ids",
    metadata,
    Column("resource", Text(), nullable=False),
    Column("scope", Text(), nullable=False, server_default=""),
    Column("file", Text(), nullable=False),
    Column("id", Text(), nullable=False),
    Index("ix_bulk_seen_ids_file", "resource", "scope", "file", "id"),
)

STORE_TABLES: tuple[str, ...] = (
    *(t.name for t in RESOURCE_TABLES.values()),
    sync_checkpoints.name,
    sync_watermarks.name,
    sync_ranges.name,
    sync_rejects.name,
    bulk_loads.name,
    bulk_seen_ids.name,
)

# The search hit tables live beside the resources' (courtflow.search.tables); importing
# them here puts them in the one metadata that migrations are checked against.
from courtflow.search import tables as _search_tables  # noqa: E402,F401
