"""Keep the ledger small: roll it up into ``api_call_metrics`` by hour, then purge it.

The reference design's hourly counter table survives as a dashboard: recomputed from
the ledger (idempotent, never incremented), so it can be rebuilt at any time, and never
consulted to decide whether a call may go.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Connection, case, cast, delete, func, select
from sqlalchemy.sql.elements import ColumnElement

from courtflow.budget.ledger import at, db_now, upsert_insert
from courtflow.budget.tables import EXTERNAL, api_call_ledger, api_call_metrics

_L = api_call_ledger
_COUNTS = ("call_count", "throttled_count", "error_count", "external_count")


def _hour_index(conn: Connection) -> ColumnElement[int]:
    """Whole hours since the epoch, in UTC whatever the session's time zone."""
    if conn.dialect.name == "postgresql":
        seconds = cast(func.floor(func.extract("epoch", _L.c.reserved_at)), BigInteger)
    else:
        seconds = cast(func.strftime("%s", _L.c.reserved_at), BigInteger)
    return seconds // 3600


def _floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollup(
    conn: Connection,
    since: datetime | None = None,
    *,
    until: datetime | None = None,
    key: str | None = None,
) -> int:
    """Recompute ``api_call_metrics`` for every hour the ledger holds from ``since`` on.

    Idempotent: each hour touched is recomputed in full from the ledger (``since`` is
    floored to its hour) and overwritten, never incremented. ``api_name`` is the budget
    key. Returns the number of hours written.
    """
    hour = _hour_index(conn).label("hour")

    def is_(*outcomes: str) -> ColumnElement[int]:
        return func.sum(case((_L.c.outcome.in_(outcomes), _L.c.weight), else_=0))

    query = select(
        _L.c.budget_key,
        hour,
        func.sum(_L.c.weight).label("total"),  # a row of external usage weighs its calls
        is_("throttled").label("throttled"),
        is_("http_error", "network", "bad_payload").label("errors"),
        is_(EXTERNAL).label("external"),
    ).group_by(_L.c.budget_key, hour)
    if since is not None:
        query = query.where(_L.c.reserved_at >= _floor_hour(since))
    if until is not None:
        query = query.where(_L.c.reserved_at < until)
    if key is not None:
        query = query.where(_L.c.budget_key == key)
    rows = [
        {
            "api_name": r.budget_key,
            "timestamp_hour": at(int(r.hour) * 3600),
            "call_count": int(r.total) - int(r.external or 0),
            "throttled_count": int(r.throttled or 0),
            "error_count": int(r.errors or 0),
            "external_count": int(r.external or 0),
        }
        for r in conn.execute(query)
    ]
    if rows:
        stmt = upsert_insert(conn)(api_call_metrics)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[api_call_metrics.c.api_name, api_call_metrics.c.timestamp_hour],
                set_={c: stmt.excluded[c] for c in _COUNTS},
            ),
            rows,
        )
    return len(rows)


def purge(conn: Connection, older_than: float, *, key: str | None = None) -> int:
    """Roll up, then delete ledger rows older than ``older_than`` seconds.

    The cut is floored to a whole hour, so every hour left in the ledger is complete and a
    later :func:`rollup` recomputes it correctly. The caller keeps ``older_than`` at least
    the longest window plus the margin (see :meth:`Budget.purge`). Returns rows deleted.
    """
    if not math.isfinite(older_than) or older_than < 0:
        raise ValueError(f"older_than must be a non-negative number of seconds, got {older_than}")
    cutoff = _floor_hour(db_now(conn) - timedelta(seconds=older_than))
    rollup(conn, until=cutoff, key=key)
    stmt = delete(_L).where(_L.c.reserved_at < cutoff)
    if key is not None:
        stmt = stmt.where(_L.c.budget_key == key)
    return int(conn.execute(stmt).rowcount)
