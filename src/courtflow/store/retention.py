"""Keep ``sync_checkpoints`` bounded: completed windows older than the retention are merged.

Every scheduled run adds one completed window; left alone the table grows by one row a
run forever. Completed windows that ended before the retention's cut-off are folded into
one row per contiguous loaded range (their pages, rows and calls summed), so the ranges a
scope has loaded, and the gaps between them, read exactly as before. Windows in progress
and recent ones are never touched.

    with engine.begin() as conn:
        merge_old_checkpoints(conn, "dockets", "", before=now - timedelta(days=7))
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, or_

from courtflow.store.state import Checkpoint, list_checkpoints, save_checkpoint
from courtflow.store.tables import sync_checkpoints


def _ranges(done: list[Checkpoint]) -> list[list[Checkpoint]]:
    """Completed windows grouped by the contiguous range (union) each belongs to."""
    groups: list[list[Checkpoint]] = []
    end: datetime | None = None
    for cp in sorted(done, key=lambda c: (c.window_start, c.window_end)):
        if end is None or cp.window_start > end:
            groups.append([cp])
            end = cp.window_end
        else:
            groups[-1].append(cp)
            end = max(end, cp.window_end)
    return groups


def merge_old_checkpoints(
    conn: Connection, resource: str, scope: str, *, before: datetime, run_id: str | None = None
) -> int:
    """Fold the scope's completed windows ending before ``before``, per loaded range;
    returns how many rows went (inside the caller's transaction)."""
    done = [cp for cp in list_checkpoints(conn, resource, scope) if cp.done]
    removed = 0
    t = sync_checkpoints
    for group in _ranges(done):
        old = [cp for cp in group if cp.window_end <= before]
        if len(old) < 2:
            continue
        keys = [and_(t.c.window_start == cp.window_start, t.c.window_end == cp.window_end)
                for cp in old]  # fmt: skip
        conn.execute(
            t.delete().where(t.c.resource == resource, t.c.scope == scope, or_(*keys))
        )
        # Inside one contiguous range, and the range's other windows stay: the union of
        # the scope's loaded windows is unchanged.
        save_checkpoint(conn, Checkpoint(
            resource, min(cp.window_start for cp in old), max(cp.window_end for cp in old),
            None, sum(cp.pages for cp in old), sum(cp.rows for cp in old),
            sum(cp.calls for cp in old), True, scope,
        ), run_id)  # fmt: skip
        removed += len(old) - 1
    return removed
