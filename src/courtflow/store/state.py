"""Sync progress: a checkpoint per scope window, a watermark per scope.

A scope is a resource plus server-side filters (courtflow.catalogue.scope); its key is ``""`` for
the whole resource, so two scopes of one resource keep apart what they have loaded.

A checkpoint holds the cursor of the next page of one window ``[start, end)``; the
caller commits it in the same transaction as that page's rows, so a killed worker
resumes at the page it lost. The watermark is the end of the last finished window and
only ever moves forward.

    with engine.begin() as conn:
        upsert_rows(conn, spec, page.results, run_id)
        save_checkpoint(conn, replace(cp, next_url=page.next, pages=cp.pages + 1), run_id)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.store.tables import sync_checkpoints, sync_watermarks


@dataclass(frozen=True)
class Checkpoint:
    """Where the sync of one window of one resource stands."""

    resource: str
    window_start: datetime
    window_end: datetime
    next_url: str | None = None
    pages: int = 0
    rows: int = 0
    calls: int = 0
    done: bool = False
    scope: str = ""


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        resource=row.resource,
        window_start=row.window_start,
        window_end=row.window_end,
        next_url=row.next_url,
        pages=int(row.pages),
        rows=int(row.rows),
        calls=int(row.calls),
        done=bool(row.done),
        scope=row.scope,
    )


def get_checkpoint(
    conn: Connection, resource: str, start: datetime, end: datetime, scope: str = ""
) -> Checkpoint | None:
    t = sync_checkpoints
    row = conn.execute(
        select(t).where(
            t.c.resource == resource,
            t.c.scope == scope,
            t.c.window_start == _aware(start, "start"),
            t.c.window_end == _aware(end, "end"),
        )
    ).first()
    return None if row is None else _checkpoint(row)


def save_checkpoint(conn: Connection, checkpoint: Checkpoint, run_id: str | None) -> None:
    """Insert or replace the checkpoint of its window (inside the caller's transaction)."""
    values = {
        "resource": checkpoint.resource,
        "scope": checkpoint.scope,
        "window_start": _aware(checkpoint.window_start, "window_start"),
        "window_end": _aware(checkpoint.window_end, "window_end"),
        "next_url": checkpoint.next_url,
        "pages": checkpoint.pages,
        "rows": checkpoint.rows,
        "calls": checkpoint.calls,
        "done": checkpoint.done,
        "updated_at": datetime.now(UTC),
        "run_id": run_id,
    }
    stmt = _insert(conn)(sync_checkpoints).values(values)
    keys = ("resource", "scope", "window_start", "window_end")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: stmt.excluded[k] for k in values if k not in keys},
    )
    conn.execute(stmt)


def list_checkpoints(
    conn: Connection, resource: str | None = None, scope: str | None = None
) -> list[Checkpoint]:
    """Checkpoints ordered by resource, scope and window, optionally of one resource/scope."""
    t = sync_checkpoints
    stmt = select(t).order_by(t.c.resource, t.c.scope, t.c.window_start, t.c.window_end)
    if resource is not None:
        stmt = stmt.where(t.c.resource == resource)
    if scope is not None:
        stmt = stmt.where(t.c.scope == scope)
    return [_checkpoint(row) for row in conn.execute(stmt)]


def get_watermark(conn: Connection, resource: str, scope: str = "") -> datetime | None:
    t = sync_watermarks
    value = conn.execute(
        select(t.c.watermark).where(t.c.resource == resource, t.c.scope == scope)
    ).scalar()
    return value if isinstance(value, datetime) else None


def advance_watermark(
    conn: Connection, resource: str, end: datetime, run_id: str | None, scope: str = ""
) -> None:
    """Move the watermark to ``end`` if that is later; an earlier ``end`` changes nothing.

    One statement, so two workers finishing windows at once cannot move it backwards.
    """
    t = sync_watermarks
    stmt = _insert(conn)(t).values(
        resource=resource,
        scope=scope,
        watermark=_aware(end, "end"),
        updated_at=datetime.now(UTC),
        run_id=run_id,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.resource, t.c.scope],
        set_={k: stmt.excluded[k] for k in ("watermark", "updated_at", "run_id")},
        where=t.c.watermark < stmt.excluded.watermark,
    )
    conn.execute(stmt)
