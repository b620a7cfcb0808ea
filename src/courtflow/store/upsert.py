"""Batched, idempotent upserts of API pages into resource tables, and table checksums.

One page is one ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE ... RETURNING id``
statement. The WHERE clause lets a version in only if it is newer (``date_modified``)
or, for two contents with the same ``date_modified``, if its content hash is higher:
the winner of any set of versions is then the same whatever order they arrive in,
and rerunning a page changes nothing at all (not even ``loaded_at``), because an
identical version is neither newer nor higher.

How the page reaches the database (measured in benchmarks/upsert_bench.py):
PostgreSQL receives the page as ONE jsonb parameter unpacked by ``jsonb_to_recordset``.
The statement text never changes, so psycopg prepares it once, where a multi-row
VALUES list is a new 280-parameter statement to compile (SQLAlchemy cannot cache
multi-row VALUES), convert and parse for every page; jsonb rather than json because
the record goes into a jsonb column and is then parsed once, not twice. SQLite gets
a multi-row VALUES list (SQLAlchemy's "insertmanyvalues": compiled once, expanded).
Bulk calls of COPY_THRESHOLD rows or more go through COPY + merge on PostgreSQL.

    with engine.begin() as conn:
        upsert_rows(conn, RESOURCES["dockets"], page["results"], run_id="manual__1")
        save_checkpoint(conn, checkpoint, run_id="manual__1")
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import Connection, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.catalogue.resources import ResourceSpec
from courtflow.store.convert import Converted, convert_page
from courtflow.store.guards import served_again
from courtflow.store.tables import resource_table

# Rows per statement on PostgreSQL: bounds the size of the JSON parameter of bulk loads.
PG_CHUNK_ROWS = 5000
# From this many rows per call, PostgreSQL stages the rows with COPY and merges them
# (copy_merge.py). Measured crossover: between 200 and 500 rows (upsert_bench.py).
COPY_THRESHOLD = 500

Method = Literal["auto", "statement", "copy"]


def _on_conflict(stmt: Any, table: Table) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != "id"},
        where=served_again(table, stmt.excluded),
    ).returning(table.c.id)


@cache
def _sqlite_statement(table: Table) -> Any:
    return _on_conflict(sqlite.insert(table), table)


@cache
def _pg_statement(table: Table) -> Any:
    page = (
        func.jsonb_to_recordset(cast(bindparam("page", type_=Text), postgresql.JSONB))
        .table_valued(*(column(c.name, c.type) for c in table.columns))
        .render_derived(with_types=True)
    )
    names = [c.name for c in table.columns]
    insert = postgresql.insert(table).from_select(names, select(*(page.c[n] for n in names)))
    return _on_conflict(insert, table)


def _json_default(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} for jsonb_to_recordset")


def row_json(item: Converted) -> str:
    """One row as a JSON object for jsonb_to_recordset (dates and times as ISO text).

    The record's canonical text, already made for its hash, is spliced in rather than
    serialised a second time: it is most of the bytes.
    """
    scalars = {k: v for k, v in item.row.items() if k != "data"}
    head = json.dumps(scalars, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    return f'{head[:-1]},"data":{item.data_json}}}'


def _pg_upsert(conn: Connection, table: Table, items: list[Converted]) -> int:
    stmt = _pg_statement(table)
    written = 0
    for start in range(0, len(items), PG_CHUNK_ROWS):
        chunk = items[start:start + PG_CHUNK_ROWS]
        page = "[" + ",".join(row_json(item) for item in chunk) + "]"
        written += len(conn.execute(stmt, {"page": page}).all())
    return written


def _sqlite_upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    # A list of parameter sets with RETURNING: SQLAlchemy renders it as multi-row
    # VALUES statements (up to 1000 rows each) from one cached compilation.
    return len(conn.execute(_sqlite_statement(table), rows).all())


def upsert_rows(
    conn: Connection,
    spec: ResourceSpec,
    records: Sequence[Mapping[str, Any]],
    run_id: str | None,
    *,
    method: Method = "auto",
) -> int:
    """Upsert one page of API records; return how many rows were inserted or changed.

    Records whose stored version is as new or newer are skipped and not counted.
    Runs inside the caller's transaction (the caller commits). Raises
    :class:`~courtflow.errors.BadPayloadError` for a record without ``id`` or with an
    unparsable ``date_modified``, before anything is written. ``method="copy"``
    forces the COPY path on PostgreSQL (ignored on SQLite).
    """
    if not records:
        return 0
    return upsert_converted(conn, spec, convert_page(spec, records, run_id, datetime.now(UTC)),
                            method=method)  # fmt: skip


def upsert_converted(
    conn: Connection, spec: ResourceSpec, items: list[Converted], *, method: Method = "auto"
) -> int:
    """Upsert rows already converted (and deduplicated by id); see :func:`upsert_rows`."""
    if not items:
        return 0
    table = resource_table(spec)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite_upsert(conn, table, [item.row for item in items])
    if dialect != "postgresql":
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    if method == "copy" or (method == "auto" and len(items) >= COPY_THRESHOLD):
        from courtflow.store.copy_merge import copy_merge_upsert

        return copy_merge_upsert(conn, table, items)
    return _pg_upsert(conn, table, items)


def count_rows(conn: Connection, spec: ResourceSpec, *, live: bool = False) -> int:
    """Rows in the resource's table; ``live``: those not marked deleted."""
    table = resource_table(spec)
    query = select(func.count()).select_from(table)
    if live:
        query = query.where(table.c.deleted_at.is_(None))
    return int(conn.execute(query).scalar_one())


def _row_digest(key: object, date_modified: datetime, content: str) -> int:
    text = f"{key}\x1f{date_modified.astimezone(UTC).isoformat()}\x1f{content}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def table_checksum(conn: Connection, spec: ResourceSpec) -> tuple[int, str]:
    """Row count and a checksum of every (id, date_modified, content_hash).

    The checksum is a sum of per-row hashes, so it ignores row order and storage
    details: the same content gives the same checksum on SQLite and PostgreSQL.
    Load metadata (run_id, loaded_at) is deliberately left out.
    """
    table = resource_table(spec)
    stmt = select(table.c.id, table.c.date_modified, table.c.content_hash)
    total = 0
    count = 0
    result = conn.execute(stmt.execution_options(yield_per=5000))
    for key, date_modified, content in result:
        total = (total + _row_digest(key, date_modified, content)) % (1 << 256)
        count += 1
    return count, f"{total:064x}"
