"""Sync progress: a checkpoint per scope window, a watermark per scope.

A scope is a resource plus server-side filters (courtflow.catalogue.scope); its key is ``""`` for
the whole resource, so two scopes of one resource keep apart what they have loaded.

A checkpoint holds the cursor of the next page of one window ``[start, end)``; the
caller commits it in the same transaction as that page's rows, so a killed worker
resumes at the page it lost.

What a scope has loaded is a set of merged ranges (``sync_ranges``): a finished window
adds its ``[start, end)`` (:func:`record_range`), touching or overlapping ranges merge.
The watermark is the end of the range that holds the scope's first load: it moves only
when that range grows, so it never jumps a gap and never passes what was read. A range
loaded beyond a gap leaves it where it is, and ``courtflow status`` lists the gap.

    with engine.begin() as conn:
        upsert_rows(conn, spec, page.results, run_id)
        save_checkpoint(conn, replace(cp, next_url=page.next, pages=cp.pages + 1), run_id)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.store.tables import sync_checkpoints, sync_ranges, sync_watermarks

# The start of a range that holds everything modified before its end: a bootstrap from
# a full export, a whole-refresh walk. (Window bounds before 1900 are refused as typos.)
LOADED_FROM_START = datetime(1900, 1, 1, tzinfo=UTC)


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
    records: int = 0  # records read in this window so far (stored, unchanged or rejected)
    rejected: int = 0  # of which set aside in sync_rejects
    new: int = 0  # of ``rows``, rows the table did not hold before


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
        records=int(row.records),
        rejected=int(row.rejected),
        new=int(row.new),
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
        "records": checkpoint.records,
        "rejected": checkpoint.rejected,
        "new": checkpoint.new,
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


@dataclass(frozen=True, order=True)
class Range:
    """A loaded (or missing) span ``[start, end)`` of ``date_modified``, aware UTC."""

    start: datetime
    end: datetime

    @property
    def from_start(self) -> bool:
        """Whether it holds everything before its end (a bootstrap or a whole walk)."""
        return self.start <= LOADED_FROM_START


def loaded_ranges(conn: Connection, resource: str, scope: str = "") -> list[Range]:
    """The scope's loaded ranges in order, touching ones merged (as written, they are)."""
    t = sync_ranges
    rows = conn.execute(
        select(t.c.range_start, t.c.range_end)
        .where(t.c.resource == resource, t.c.scope == scope)
        .order_by(t.c.range_start)
    )
    merged: list[Range] = []
    for start, end in rows:
        if merged and start <= merged[-1].end:
            merged[-1] = Range(merged[-1].start, max(merged[-1].end, end))
        else:
            merged.append(Range(start, end))
    return merged


def gaps_of(ranges: list[Range]) -> list[Range]:
    """The holes between consecutive loaded ranges (what ``backfill --gaps`` fills)."""
    return [Range(a.end, b.start) for a, b in pairwise(ranges) if a.end < b.start]


def _lock_scope(conn: Connection, resource: str, scope: str) -> None:
    """Serialise range updates of one scope for the rest of the transaction (PostgreSQL;
    SQLite transactions already write one at a time)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"courtflow.sync_ranges:{resource}?{scope}"},
        )


def record_range(
    conn: Connection,
    resource: str,
    start: datetime,
    end: datetime,
    run_id: str | None,
    scope: str = "",
) -> datetime | None:
    """Add ``[start, end)`` to what the scope has loaded and return its watermark.

    Ranges it touches or overlaps merge into one. The watermark then is the end of the
    range holding the current watermark (the scope's first load, on its first call): a
    range beyond a gap does not move it, a range filling the gap does. An empty range
    changes nothing. Inside the caller's transaction (the window's last page).
    """
    start, end = _aware(start, "start"), _aware(end, "end")
    t, w = sync_ranges, sync_watermarks
    _lock_scope(conn, resource, scope)
    mark = get_watermark(conn, resource, scope)
    if end > start:
        where = (t.c.resource == resource, t.c.scope == scope)
        touching = conn.execute(
            select(t.c.range_start, t.c.range_end).where(
                *where, t.c.range_start <= end, t.c.range_end >= start
            )
        ).all()
        lo = min([start, *(r[0] for r in touching)])
        hi = max([end, *(r[1] for r in touching)])
        if touching:
            conn.execute(delete(t).where(*where, t.c.range_start.in_([r[0] for r in touching])))
        conn.execute(t.insert().values(resource=resource, scope=scope, range_start=lo,
                                       range_end=hi, updated_at=datetime.now(UTC),
                                       run_id=run_id))  # fmt: skip
    ranges = loaded_ranges(conn, resource, scope)
    if not ranges:
        return mark
    anchor = next((r for r in ranges if mark is not None and r.start <= mark <= r.end), None)
    new_mark = (anchor or ranges[0]).end
    if new_mark != mark:
        stmt = _insert(conn)(w).values(resource=resource, scope=scope, watermark=new_mark,
                                       updated_at=datetime.now(UTC), run_id=run_id)  # fmt: skip
        stmt = stmt.on_conflict_do_update(
            index_elements=[w.c.resource, w.c.scope],
            set_={k: stmt.excluded[k] for k in ("watermark", "updated_at", "run_id")},
        )
        conn.execute(stmt)
    return new_mark

