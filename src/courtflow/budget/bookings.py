"""Bookings: room a higher class expects to need at a known moment, kept free for it.

Classes order the waiters, but a waiter can only take room as it frees up: an increment
that arrives while a backfill keeps every window full waits for the backfill's calls to
leave them (up to a whole window), where alone it would have found the windows' burst
free. A scheduled run knows when the next one is due, so it books: "``need`` calls of
``incremental`` at ``due_at``". From then on a lower class is admitted only when its
call will have left each window by the due time, or leaves that window room for the
booked run's first burst then (``min(need, smallest limit)``: what it takes at once;
its later calls come as calls leave the windows, and its class puts it first in line).
The booked class's admissions from a minute before the due time use the booking up;
past ``lease_until`` (the run never came, or needed less) it holds nothing. So the
backfill gives up about one burst, once per booking, and only in the windows that
reach the due time.

Any rule that lets the increment start at once must leave a burst's worth of a full
window idle before it: where every window allows the same sustained rate (``5/5s`` and
``30/30s``), that idle room is lost for good (about 5 calls per booking there).

The rule runs in ``courtflow_admit()`` on PostgreSQL (migration ``0009_bookings``) and in
:func:`held_until` on SQLite, under the budget key's lock like every admission.

>>> booking = book(conn, key, "incremental", due_at, need=10, hold=300.0)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, delete, insert, select, update

from courtflow.budget.priorities import RANKS, parse_priority
from courtflow.budget.rates import Rate
from courtflow.budget.tables import api_budget_bookings
from courtflow.errors import ConfigError

_K = api_budget_bookings

# An admission of the booked class this long before the due time already uses the
# booking (a run a little early). courtflow_admit() has the same 60 s.
EARLY: Final = 60.0
# How long past its due time a booking holds room by default: a scheduled run starts a
# little late (scheduler, workers), and its calls come over its first minutes.
DEFAULT_HOLD: Final = 300.0


@dataclass(frozen=True)
class Booking:
    """One booking as the rule sees it; times are epoch seconds (database clock)."""

    id: int
    priority: str
    rank: int
    due_at: float
    need: int
    lease_until: float


def held_until(
    bookings: Sequence[Booking],
    my_rank: int,
    rates: Sequence[Rate],
    margin: float,
    now: float,
    counted_from: Callable[[int], float | None],
) -> float | None:
    """None if no booking holds a caller of ``my_rank`` back now, else when to ask again.

    ``counted_from(back)`` is when the row holding the call ``back`` calls before the
    newest counts from (None: the log holds fewer calls). Same rule as
    ``courtflow_admit()``: for each live booking of a higher rank and each rate whose
    window, started now, reaches the due time, the call may go only if at
    ``max(due, now)`` that window holds at most ``limit - burst - 1`` calls, where the
    burst is ``min(need, smallest limit)``: what the booked run takes at once.
    """
    wake: float | None = None
    burst_cap = min((r.limit for r in rates if r.limit > 0), default=0)
    for b in bookings:
        if b.rank <= my_rank or b.need <= 0 or b.lease_until <= now:
            continue
        ref = max(b.due_at, now)
        for rate in rates:
            window = rate.period + margin
            if rate.limit <= 0 or now + window <= b.due_at:
                continue
            keep = rate.limit - min(b.need, burst_cap) - 1  # others' calls allowed at ref
            if keep < 0:
                until = min(b.lease_until, ref + window)
            else:
                blocker = counted_from(keep)
                if blocker is None or blocker + window <= ref:
                    continue
                until = blocker + window
            wake = until if wake is None else max(wake, until)
    return wake


def live_bookings(conn: Connection, key: str, now: datetime) -> list[Booking]:
    rows = conn.execute(
        select(_K.c.id, _K.c.priority, _K.c.rank, _K.c.due_at, _K.c.need, _K.c.lease_until).where(
            _K.c.budget_key == key, _K.c.lease_until > now, _K.c.need > 0
        )
    ).all()
    return [
        Booking(int(i), str(p), int(r), d.timestamp(), int(n), lease.timestamp())
        for i, p, r, d, n, lease in rows
    ]


def use_booking(conn: Connection, key: str, priority: str, now: datetime) -> None:
    """One admission of ``priority``: one call off its earliest booking due (SQLite path)."""
    first = (
        select(_K.c.id)
        .where(
            _K.c.budget_key == key,
            _K.c.priority == priority,
            _K.c.need > 0,
            _K.c.lease_until > now,
            _K.c.due_at <= now + timedelta(seconds=EARLY),
        )
        .order_by(_K.c.due_at, _K.c.id)
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(update(_K).where(_K.c.id == first).values(need=_K.c.need - 1))


def drop_spent(conn: Connection, key: str, now: datetime) -> None:
    spent = (_K.c.lease_until <= now) | (_K.c.need <= 0)
    conn.execute(delete(_K).where(_K.c.budget_key == key, spent))


def book(
    conn: Connection,
    key: str,
    priority: str,
    due_at: datetime,
    need: int,
    *,
    hold: float = DEFAULT_HOLD,
    ids: dict[str, Any] | None = None,
) -> int:
    """Book ``need`` calls of ``priority`` on ``key`` at ``due_at``; returns the booking's id.

    ``hold`` seconds after ``due_at`` the booking lapses, used or not.
    """
    name = parse_priority(priority)
    if isinstance(need, bool) or not isinstance(need, int) or need < 1:
        raise ConfigError(f"a booking needs at least one call, got {need!r}")
    if not math.isfinite(hold) or hold <= 0:
        raise ConfigError(f"a booking's hold must be a positive number of seconds, got {hold!r}")
    if due_at.tzinfo is None:
        raise ConfigError(f"a booking's due time must carry a time zone, got {due_at!r}")
    found = ids or {}
    values = {
        "budget_key": key,
        "priority": name,
        "rank": RANKS[name],
        "due_at": due_at,
        "need": need,
        "lease_until": due_at + timedelta(seconds=hold),
        "booked_at": datetime.now(UTC),  # for people: the rule never reads it
        "run_id": found.get("run_id"),
        "task_id": found.get("task_id"),
        "dag_id": found.get("dag_id"),
    }
    return int(conn.execute(insert(_K).returning(_K.c.id), values).scalar_one())


def cancel(conn: Connection, key: str, booking: int) -> None:
    """Give a booking up (its run is done, or will not come)."""
    conn.execute(delete(_K).where(_K.c.budget_key == key, _K.c.id == booking))


def cancel_due(
    conn: Connection, key: str, dag_id: str | None, task_id: str | None, now: datetime
) -> int:
    """Give up the bookings of one task (dag_id, task_id) that are due by ``now`` (a
    minute's ``EARLY`` included): the run they were made for has come. Returns how many."""
    result = conn.execute(
        delete(_K).where(
            _K.c.budget_key == key,
            _K.c.dag_id.is_(None) if dag_id is None else _K.c.dag_id == dag_id,
            _K.c.task_id.is_(None) if task_id is None else _K.c.task_id == task_id,
            _K.c.due_at <= now + timedelta(seconds=EARLY),
        )
    )
    return int(result.rowcount or 0)




@dataclass(frozen=True)
class Booked:
    """A live booking as people read it (``courtflow status``)."""

    priority: str
    need: int
    due_at: datetime
    lease_until: datetime
    dag_id: str | None
    task_id: str | None


def booked(conn: Connection, key: str, now: datetime) -> tuple[Booked, ...]:
    """The key's live bookings at ``now`` (the database's clock), earliest due first."""
    rows = conn.execute(
        select(_K.c.priority, _K.c.need, _K.c.due_at, _K.c.lease_until, _K.c.dag_id, _K.c.task_id)
        .where(_K.c.budget_key == key, _K.c.lease_until > now, _K.c.need > 0)
        .order_by(_K.c.due_at, _K.c.id)
    ).all()
    return tuple(Booked(str(p), int(n), d, lease, dag, task) for p, n, d, lease, dag, task in rows)
