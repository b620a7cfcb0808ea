"""Poison records: store what can be stored, set aside what cannot, never stop a window.

:func:`store_page` is the sync's way to write a page. Records the target cannot hold
(see the rule in :mod:`courtflow.store.convert`) go to ``sync_rejects`` with the reason,
the page URL and the raw record, and the rest of the page is stored. Should the database
still refuse the batch (a value no local check foresaw), the page is retried row by row,
each in its own savepoint, and only the rows it refuses are rejected.

A rejected record is kept once per scope (keyed by a hash of its raw text): refetching
the page does not add it again. ``count_rejects``/``list_rejects`` serve ``courtflow
status``, the report and the summary.

    with engine.begin() as conn:
        stored = store_page(conn, spec, page.results, run_id, scope="", page_url=page.url)
    stored.written, stored.rejected
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from courtflow.catalogue.resources import ResourceSpec
from courtflow.store.convert import Converted, Rejected, partition_page, raw_text
from courtflow.store.retry import first_line, is_transient_db_error
from courtflow.store.tables import resource_table, sync_rejects
from courtflow.store.upsert import upsert_converted

log = logging.getLogger("courtflow.store.rejects")

_REASON_CHARS = 2000


def is_record_error(exc: BaseException) -> bool:
    """True when the database refused a value (PostgreSQL class 22, a constraint, SQLite
    binding overflow): the record's fault. A lost connection, a shutdown or any other
    operational error is never a record's fault: it propagates to the retry policy."""
    if isinstance(exc, DataError | IntegrityError):
        return not is_transient_db_error(exc)
    if isinstance(exc, DBAPIError):
        return False
    return isinstance(exc, StatementError | OverflowError | ValueError)


@dataclass(frozen=True)
class PageStored:
    """What :func:`store_page` did with one page."""

    written: int  # rows inserted or changed (as upsert_rows counts)
    rejected: int  # records set aside in sync_rejects
    new: int = 0  # of ``written``, rows the table did not hold before
    first_reason: str | None = None  # why the first rejected record was refused

    @property
    def changed(self) -> int:
        """Rows that existed and took a newer version."""
        return self.written - self.new


@dataclass(frozen=True)
class RejectRow:
    """One row of ``sync_rejects``."""

    resource: str
    scope: str
    record_key: str | None
    reason: str
    page_url: str | None
    raw: str
    run_id: str | None
    rejected_at: datetime


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def save_rejects(
    conn: Connection,
    resource: str,
    scope: str,
    rejects: Iterable[Rejected],
    *,
    page_url: str | None,
    run_id: str | None,
) -> int:
    """Record ``rejects`` (inside the caller's transaction); returns how many."""
    now = datetime.now(UTC)
    rows = [
        {
            "resource": resource,
            "scope": scope,
            "raw_hash": hashlib.sha256(r.raw.encode("utf-8", "replace")).hexdigest(),
            "record_key": r.key,
            "reason": r.reason[:_REASON_CHARS],
            "page_url": page_url,
            "raw": r.raw,
            "run_id": run_id,
            "rejected_at": now,
        }
        for r in rejects
    ]
    if not rows:
        return 0
    stmt = _insert(conn)(sync_rejects)
    stmt = stmt.on_conflict_do_update(
        index_elements=["resource", "scope", "raw_hash"],
        set_={k: stmt.excluded[k] for k in ("reason", "page_url", "run_id", "rejected_at")},
    )
    conn.execute(stmt, rows)
    return len(rows)


def _upsert_one_by_one(
    conn: Connection, spec: ResourceSpec, items: list[Converted]
) -> tuple[int, list[Rejected]]:
    written = 0
    refused: list[Rejected] = []
    for item in items:
        savepoint = conn.begin_nested()
        try:
            written += upsert_converted(conn, spec, [item], method="statement")
            savepoint.commit()
        except Exception as exc:
            if not is_record_error(exc):
                raise
            savepoint.rollback()
            key = str(item.row["id"])
            refused.append(Rejected(key, f"refused by the database: {first_line(exc)}",
                                    raw_text(item.row["data"])))  # fmt: skip
    return written, refused


def store_page(
    conn: Connection,
    spec: ResourceSpec,
    records: Sequence[Mapping[str, Any]],
    run_id: str | None,
    *,
    scope: str = "",
    page_url: str | None = None,
) -> PageStored:
    """Upsert what can be stored of one page, set the rest aside; inside the caller's
    transaction (the caller commits, with the page's checkpoint)."""
    items, rejected = partition_page(spec, records, run_id, datetime.now(UTC))
    written = 0
    # Ids the table already holds: every other written row is new (a row not there is
    # always inserted), so new/changed/unchanged follow from counts alone.
    held = _held(conn, spec, [item.row["id"] for item in items])
    if items:
        savepoint = conn.begin_nested()
        try:
            written = upsert_converted(conn, spec, items)
            savepoint.commit()
        except Exception as exc:
            if not is_record_error(exc):
                raise
            savepoint.rollback()
            log.warning("the database refused a page of %s (%s); storing row by row",
                        spec.name, first_line(exc))  # fmt: skip
            written, refused = _upsert_one_by_one(conn, spec, items)
            rejected.extend(refused)
    if rejected:
        save_rejects(conn, spec.name, scope, rejected, page_url=page_url, run_id=run_id)
        for r in rejected:
            log.warning(
                "record rejected: %s",
                r.reason,
                extra={
                    "event": "record_rejected",
                    "resource": spec.name,
                    "scope": scope,
                    "key": r.key,
                    "page_url": page_url,
                },
            )
    new = sum(1 for item in items if item.row["id"] not in held)
    return PageStored(written, len(rejected), min(new, written),
                      rejected[0].reason if rejected else None)  # fmt: skip


def _held(conn: Connection, spec: ResourceSpec, ids: list[Any]) -> set[Any]:
    if not ids:
        return set()
    table = resource_table(spec)
    return set(conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())


def count_rejects(
    conn: Connection,
    resource: str | None = None,
    scope: str | None = None,
    *,
    run_ids: Sequence[str] | None = None,
) -> int:
    """Rejected records, optionally of one resource, scope or set of runs."""
    t = sync_rejects
    stmt = select(func.count()).select_from(t)
    if resource is not None:
        stmt = stmt.where(t.c.resource == resource)
    if scope is not None:
        stmt = stmt.where(t.c.scope == scope)
    if run_ids is not None:
        stmt = stmt.where(t.c.run_id.in_(list(run_ids)))
    return int(conn.execute(stmt).scalar_one())


def list_rejects(
    conn: Connection,
    resource: str | None = None,
    scope: str | None = None,
    *,
    limit: int = 100,
) -> list[RejectRow]:
    """The most recent rejected records first, optionally of one resource or scope."""
    t = sync_rejects
    stmt = select(t).order_by(t.c.rejected_at.desc(), t.c.resource, t.c.raw_hash).limit(limit)
    if resource is not None:
        stmt = stmt.where(t.c.resource == resource)
    if scope is not None:
        stmt = stmt.where(t.c.scope == scope)
    return [
        RejectRow(r.resource, r.scope, r.record_key, r.reason, r.page_url, r.raw, r.run_id,
                  r.rejected_at)
        for r in conn.execute(stmt)
    ]


def rejects_by_resource(conn: Connection) -> dict[str, int]:
    """Rejected records per resource (for metrics and the report)."""
    t = sync_rejects
    rows = conn.execute(select(t.c.resource, func.count()).group_by(t.c.resource))
    return {str(r[0]): int(r[1]) for r in rows}
