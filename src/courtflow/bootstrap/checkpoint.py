"""Per-file progress of a bootstrap (table ``bulk_loads``): where to resume, what was done.

The row of a file is saved in the same transaction as each chunk's merge, so after a
kill the saved byte offset is exactly the end of the last merged chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.store.tables import bulk_loads

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(frozen=True)
class FileProgress:
    resource: str
    scope: str
    file: str
    location: str
    export_date: date | None
    status: str = RUNNING
    byte_offset: int = 0
    line: int = 2  # the first record's line (the header is line 1)
    rows_read: int = 0
    rows_written: int = 0
    run_id: str | None = None
    error: str | None = None


def get_progress(conn: Connection, resource: str, scope: str, file: str) -> FileProgress | None:
    t = bulk_loads
    row: Any = conn.execute(
        select(t).where(t.c.resource == resource, t.c.scope == scope, t.c.file == file)
    ).first()
    if row is None:
        return None
    return FileProgress(
        resource=row.resource, scope=row.scope, file=row.file, location=row.location,
        export_date=row.export_date, status=row.status, byte_offset=int(row.byte_offset),
        line=int(row.line), rows_read=int(row.rows_read), rows_written=int(row.rows_written),
        run_id=row.run_id, error=row.error,
    )  # fmt: skip


def save_progress(conn: Connection, p: FileProgress) -> None:
    """Insert or replace the file's row (inside the caller's transaction)."""
    now = datetime.now(UTC)
    values = {
        "resource": p.resource, "scope": p.scope, "file": p.file, "location": p.location,
        "export_date": p.export_date, "status": p.status, "byte_offset": p.byte_offset,
        "line": p.line, "rows_read": p.rows_read, "rows_written": p.rows_written,
        "api_calls": 0, "started_at": now, "updated_at": now,
        "finished_at": now if p.status == DONE else None, "run_id": p.run_id,
        "error": p.error,
    }  # fmt: skip
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(bulk_loads).values(values)
    keys = ("resource", "scope", "file", "started_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["resource", "scope", "file"],
        set_={k: stmt.excluded[k] for k in values if k not in keys},
    )
    conn.execute(stmt)


def list_progress(conn: Connection) -> list[FileProgress]:
    t = bulk_loads
    rows = conn.execute(select(t.c.resource, t.c.scope, t.c.file).order_by(t.c.started_at))
    out = []
    for resource, scope, file in rows.all():
        found = get_progress(conn, resource, scope, file)
        if found is not None:
            out.append(found)
    return out
