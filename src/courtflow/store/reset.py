"""Clearing checkpoints on purpose (``courtflow reset``): their windows are walked again.

Safe at any time: rows already stored stay, and refetching them changes nothing (upserts
are idempotent). The watermark is left alone: it records the newest finished window,
and a reset window finishing again cannot move it backwards.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete

from courtflow.store.state import Checkpoint, list_checkpoints
from courtflow.store.tables import sync_checkpoints


def clear_checkpoints(
    engine: Engine,
    resource: str,
    scope: str = "",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Checkpoint]:
    """Delete the checkpoints of ``resource``/``scope`` whose window overlaps
    ``[since, until)`` (open-ended when None); returns what was deleted."""
    t = sync_checkpoints
    with engine.begin() as conn:
        found = [
            cp
            for cp in list_checkpoints(conn, resource, scope)
            if (since is None or cp.window_end > since)
            and (until is None or cp.window_start < until)
        ]
        for cp in found:
            conn.execute(
                delete(t).where(
                    t.c.resource == cp.resource,
                    t.c.scope == cp.scope,
                    t.c.window_start == cp.window_start,
                    t.c.window_end == cp.window_end,
                )
            )
    return found
