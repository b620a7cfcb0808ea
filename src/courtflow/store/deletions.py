"""Rows the server no longer has: marked with ``deleted_at``, never removed unless asked.

A deletion is only ever recorded from evidence: absent from a newer full export and
not modified since it (courtflow.bootstrap.deletions), or absent from a re-walk of its
window and answered 404/410 by its own detail URL (courtflow.run.audit). Live rows are
``WHERE deleted_at IS NULL``; :func:`purge_deleted` removes marked rows on request.

    with engine.begin() as conn:
        mark_deleted(conn, spec, [4, 9], when=now)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, exists, func, select, true, update
from sqlalchemy.sql.elements import ColumnElement

from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.window import Window
from courtflow.store.tables import bulk_seen_ids, resource_table

_CHUNK = 500  # ids per statement: well under SQLite's parameter limit


def in_window(spec: ResourceSpec, window: Window) -> ColumnElement[bool]:
    """Rows whose ``date_modified`` falls in ``[start, end)``, as the API's filter reads."""
    table = resource_table(spec)
    return and_(table.c.date_modified >= window.start, table.c.date_modified < window.end)


def _all(where: ColumnElement[bool] | None) -> ColumnElement[bool]:
    return where if where is not None else true()


def live_count(
    conn: Connection, spec: ResourceSpec, window: Window, where: ColumnElement[bool] | None = None
) -> int:
    """Live rows (not marked deleted) of ``window`` that satisfy ``where``."""
    table = resource_table(spec)
    stmt = select(func.count()).select_from(table).where(
        table.c.deleted_at.is_(None), in_window(spec, window), _all(where)
    )
    return int(conn.execute(stmt).scalar_one())


def live_ids(
    conn: Connection, spec: ResourceSpec, window: Window, where: ColumnElement[bool] | None = None
) -> set[Any]:
    """Ids of the live rows of ``window`` that satisfy ``where``."""
    table = resource_table(spec)
    stmt = select(table.c.id).where(
        table.c.deleted_at.is_(None), in_window(spec, window), _all(where)
    )
    return {row[0] for row in conn.execute(stmt)}


def mark_deleted(conn: Connection, spec: ResourceSpec, ids: Iterable[Any], when: datetime) -> int:
    """Mark these rows deleted as of ``when`` (rows already marked keep their time)."""
    table = resource_table(spec)
    keys = list(ids)
    marked = 0
    for start in range(0, len(keys), _CHUNK):
        stmt = (
            update(table)
            .where(table.c.id.in_(keys[start:start + _CHUNK]), table.c.deleted_at.is_(None))
            .values(deleted_at=when)
        )
        marked += int(conn.execute(stmt).rowcount)
    return marked


def purge_deleted(
    conn: Connection, spec: ResourceSpec, where: ColumnElement[bool] | None = None
) -> int:
    """Remove the rows marked deleted that satisfy ``where``; returns how many."""
    table = resource_table(spec)
    stmt = table.delete().where(
        table.c.deleted_at.is_not(None), where if where is not None else true()
    )
    return int(conn.execute(stmt).rowcount)


def deleted_count(conn: Connection, spec: ResourceSpec) -> int:
    table = resource_table(spec)
    stmt = select(func.count()).select_from(table).where(table.c.deleted_at.is_not(None))
    return int(conn.execute(stmt).scalar_one())


# -- the ids one export file held ------------------------------------------------------


def note_seen(conn: Connection, resource: str, scope: str, file: str, ids: Sequence[Any]) -> None:
    """Remember ids read from ``file`` (inside the chunk's own transaction)."""
    if ids:
        conn.execute(
            bulk_seen_ids.insert(),
            [{"resource": resource, "scope": scope, "file": file, "id": str(k)} for k in ids],
        )


def has_seen(conn: Connection, resource: str, scope: str, file: str) -> bool:
    s = bulk_seen_ids
    stmt = select(s.c.id).where(s.c.resource == resource, s.c.scope == scope, s.c.file == file)
    return conn.execute(stmt.limit(1)).first() is not None


def mark_absent(
    conn: Connection,
    spec: ResourceSpec,
    scope: str,
    file: str,
    *,
    before: datetime,
    when: datetime,
    where: ColumnElement[bool] | None = None,
) -> int:
    """Mark deleted the live rows satisfying ``where``, last modified before ``before``,
    whose ids ``file`` did not hold. Returns how many."""
    table, s = resource_table(spec), bulk_seen_ids
    held = exists().where(
        s.c.resource == spec.name, s.c.scope == scope, s.c.file == file,
        s.c.id == cast(table.c.id, Text),
    )  # fmt: skip
    stmt = (
        update(table)
        .where(
            table.c.deleted_at.is_(None),
            table.c.date_modified < before,
            where if where is not None else true(),
            ~held,
        )
        .values(deleted_at=when)
    )
    return int(conn.execute(stmt).rowcount)


def forget_seen(conn: Connection, resource: str, scope: str, file: str) -> None:
    s = bulk_seen_ids
    conn.execute(s.delete().where(s.c.resource == resource, s.c.scope == scope, s.c.file == file))
