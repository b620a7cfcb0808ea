"""One admission attempt under the budget key's lock: windows, block, then the queue.

The windows decide whether there is room (:func:`courtflow.budget.waits.room_at`); the
queue decides who gets it (:func:`courtflow.budget.priorities.ahead_of`): a caller is
admitted only when there is room and no live ticket is served before it. A refused
caller that queues keeps (or takes) a ticket that records its expected turn
(:func:`courtflow.budget.waits.slot_at`), so waiters wake one by one at their own turn
instead of together. Its lease is a heartbeat: ``hold`` plus a grace from each attempt,
renewed by asking again, so a dead waiter's ticket stops counting within seconds.

- PostgreSQL: ``courtflow_admit()`` (its latest text: migration ``0014_admit_now``; the
  heartbeat lease: ``0012_tickets``, to be chained before 0014),
  one round trip.
- SQLite: the same rule here, inside the ``BEGIN IMMEDIATE`` transaction.

The rule itself is stated in :mod:`courtflow.budget.model`; a property test replays
random schedules against the model and both of these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError

from courtflow.budget.bookings import drop_spent, held_until, live_bookings, use_booking
from courtflow.budget.priorities import (
    DEFAULT_PRIORITY,
    DEFAULT_SHARE_SPAN,
    RANKS,
    Place,
    ahead_of,
    starved,
)
from courtflow.budget.rates import Rate
from courtflow.budget.seqlog import (
    KEY,
    backs,
    blockers_from,
    counted_from,
    newest_reserved_at,
    probe_columns,
    top_seq,
)
from courtflow.budget.tables import RESERVED, api_budget_blocks, api_budget_tickets, api_call_ledger
from courtflow.budget.waits import room_at, slot_at
from courtflow.store.coltypes import UTCDateTime

_L, _B, _T = api_call_ledger, api_budget_blocks, api_budget_tickets
SQLITE_NOW = func.strftime("%Y-%m-%d %H:%M:%f", "now")
# A refused waiter re-asks within its hold; this long after that, its ticket no longer
# counts (its owner is gone: killed, or stopped waiting without giving the place up).
DEFAULT_GRACE = 5.0


@dataclass(frozen=True)
class Queueing:
    """How a caller stands in the queue for one attempt.

    ``ticket``: its place from an earlier attempt (None: none yet). ``peek``: only ask
    whether it would be admitted (the trigger and sensor), reserving nothing. ``queue``:
    take or renew a ticket when not admitted. The lease lasts ``hold`` plus ``grace``
    seconds from this attempt: the caller must ask again before it runs out. ``linger``
    (with ``queue``): once admitted, keep the ticket that long, so a caller between two
    calls keeps its class's claim (a lower class cannot take the rest of a burst
    meanwhile). ``shares``: minimum shares per class.
    """

    priority: str = DEFAULT_PRIORITY
    ticket: int | None = None
    peek: bool = False
    queue: bool = False
    hold: float = 0.0
    grace: float = DEFAULT_GRACE
    linger: float = 0.0
    shares: tuple[tuple[str, float], ...] = ()
    share_span: int = DEFAULT_SHARE_SPAN

    @property
    def rank(self) -> int:
        return RANKS[self.priority]


@dataclass(frozen=True)
class Seen:
    """One attempt's view of the key, taken under its lock; times are the database's."""

    call_id: int | None
    now: datetime
    blocked_until: datetime | None
    server_rates: str | None
    blockers: tuple[float | None, ...]  # per rate: when its N-th newest call counts from
    ticket: int | None = None  # the caller's ticket after the attempt (None once admitted)
    ahead: int = 0  # live tickets served before it
    wake: float = 0.0  # epoch seconds: its expected turn (now when admitted or ready)


# -- PostgreSQL ------------------------------------------------------------------------

# Sent on the driver's connection directly: SQLAlchemy's execution machinery would cost
# more CPU than the database spends on the whole reservation (benchmarks/budget_bench.py).
_PG_ADMIT = (
    "SELECT o_call_id, o_now, o_blocked_until, o_server_rates, o_blockers, o_ticket,"
    " o_ahead, o_wake"
    " FROM courtflow_admit(%(key)s::text, %(limits)s::integer[],"
    " %(windows)s::double precision[], %(margin)s::double precision, %(endpoint)s::text,"
    " %(attempt)s::integer, %(run_id)s::text, %(task_id)s::text, %(dag_id)s::text,"
    " %(server_rates)s::text, %(check)s::boolean, %(synchronous)s::boolean,"
    " %(priority)s::text, %(rank)s::integer, %(ticket)s::bigint, %(peek)s::boolean,"
    " %(queue)s::boolean, %(hold)s::double precision, %(grace)s::double precision,"
    " %(linger)s::double precision,"
    " %(share_classes)s::text[], %(shares)s::double precision[], %(share_span)s::integer,"
    " %(now)s::timestamptz)"
)


@lru_cache(maxsize=64)
def _pg_arrays(rates: tuple[Rate, ...], margin: float) -> tuple[str, str]:
    """The limits and windows as array literals: sent as text, cast by the server.

    A Python list costs psycopg an array dumper per call, a fifth of the client's CPU
    per reservation (benchmarks/budget_bench.py).
    """
    limits = ",".join(str(r.limit) for r in rates)
    windows = ",".join(repr(r.period + margin) for r in rates)
    return "{" + limits + "}", "{" + windows + "}"


@lru_cache(maxsize=16)
def _pg_shares(shares: tuple[tuple[str, float], ...]) -> tuple[str, str]:
    return (
        "{" + ",".join(c for c, _ in shares) + "}",
        "{" + ",".join(repr(s) for _, s in shares) + "}",
    )


def admit_pg(
    conn: Connection,
    key: str,
    rates: Sequence[Rate],
    margin: float,
    known: str | None,
    check: bool,
    ids: dict[str, Any],
    synchronous: bool,
    q: Queueing,
    now: datetime | None = None,
) -> Seen:
    """One ``courtflow_admit()`` round trip. ``now`` replaces the database clock (tests
    replaying a schedule; migration ``0014_admit_now``): production leaves it None."""
    limits, windows = _pg_arrays(tuple(rates), margin)
    share_classes, shares = _pg_shares(q.shares)
    params = {
        "key": key,
        "limits": limits,
        "windows": windows,
        "margin": margin,
        "server_rates": known,
        "check": check,
        "synchronous": synchronous,
        "priority": q.priority,
        "rank": q.rank,
        "ticket": q.ticket,
        "peek": q.peek,
        "queue": q.queue,
        "hold": q.hold,
        "grace": q.grace,
        "linger": q.linger,
        "share_classes": share_classes,
        "shares": shares,
        "share_span": q.share_span,
        "now": now,
        **ids,
    }
    driver: Any = conn.connection.driver_connection
    dbapi: Any = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor:
            cursor.execute(_PG_ADMIT, params)
            call_id, now, blocked, server, blockers, ticket, ahead, wake = cursor.fetchone()
    except dbapi.Error as exc:
        # What SQLAlchemy would do for its own statements: drop a dead connection and
        # raise its exception classes, so callers can tell a disconnect and retry.
        gone = conn.dialect.is_disconnect(exc, driver, None)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            _PG_ADMIT, params, exc, dbapi.Error, connection_invalidated=gone
        ) from exc
    return Seen(
        call_id,
        now,
        blocked,
        server,
        tuple(None if b is None else b.timestamp() for b in blockers),
        ticket,
        int(ahead or 0),
        _wake_epoch(wake),
    )


def _wake_epoch(value: Any) -> float:
    # psycopg returns 'infinity' timestamptz as datetime.max (or a string on old versions).
    if value is None or not isinstance(value, datetime) or value.year >= 9999:
        return math.inf
    return value.timestamp()


# -- SQLite ----------------------------------------------------------------------------


# The clock a test injects instead of SQLite's (production never binds it).
_NOW = bindparam("now", type_=UTCDateTime())


@lru_cache(maxsize=64)
def _head(probes: int, injected: bool = False) -> Select[Any]:
    return select(
        _NOW if injected else type_coerce(SQLITE_NOW, UTCDateTime()),
        select(_B.c.blocked_until).where(_B.c.budget_key == KEY).scalar_subquery(),
        select(_B.c.server_rates).where(_B.c.budget_key == KEY).scalar_subquery(),
        top_seq(),
        newest_reserved_at(),
        *probe_columns(probes),
    )


@lru_cache(maxsize=64)
def _probe(probes: int) -> Select[Any]:
    return select(*probe_columns(probes))


_INSERT = insert(_L).returning(_L.c.id)


def admit_sqlite(
    conn: Connection,
    key: str,
    rates: Sequence[Rate],
    margin: float,
    known: str | None,
    check: bool,
    ids: dict[str, Any],
    q: Queueing,
    now: datetime | None = None,
) -> Seen:
    """The same rule as ``courtflow_admit()``, inside SQLite's ``BEGIN IMMEDIATE``.

    ``now`` replaces the database clock (tests replaying a schedule): production leaves
    it None.
    """
    params = backs(rates)
    injected = {} if now is None else {"now": now}
    row = conn.execute(_head(len(params), now is not None), {"key": key, **params, **injected})
    now_dt, blocked, server, top, newest, *found = row.one()
    at = now_dt.timestamp()
    blockers = tuple(blockers_from(rates, found, margin))
    ready = room_at(blockers, rates, at, margin)
    if blocked is not None and blocked.timestamp() > at:
        ready = max(ready, blocked.timestamp())
    room = ready <= 0.0 and not (check and server != known)
    places = _live_places(conn, key, now_dt)
    me = next((p for p in places if p.ticket == q.ticket), None) if q.ticket else None
    others = [p for p in places if me is None or p.ticket != me.ticket]
    ahead = 0
    if others:
        hungry = _hungry(conn, key, top, q) if q.shares else frozenset()
        # Back within its linger, a caller arrives now, like one without a ticket.
        waiting = me if me is not None and me.waiting_since is not None else None
        ahead = ahead_of(waiting, q.priority, q.rank, others, hungry, at)
    held = None
    bookings = []
    if room and ahead == 0:
        bookings = live_bookings(conn, key, now_dt)
        if bookings:
            held = held_until(
                bookings, q.rank, rates, margin, at,
                lambda back: _counted_from(conn, key, back, margin),
            )  # fmt: skip
            room = held is None
    if room and ahead == 0 and not q.peek:
        # A clock stepped back must not break "seq order is time order".
        stamp = now_dt if newest is None or newest <= now_dt else newest
        values = {
            "budget_key": key,
            "seq": (top or 0) + 1,
            "reserved_at": stamp,
            "outcome": RESERVED,
            "priority": q.priority,
            "queued_ms": _queued_ms(me, at),
            **ids,
        }
        call_id = conn.execute(_INSERT, values).scalar_one()
        if any(b.priority == q.priority for b in bookings):
            use_booking(conn, key, q.priority, now_dt)
        kept = None
        if q.queue and q.linger > 0:
            until = now_dt + timedelta(seconds=q.linger)
            linger = {"arrived_at": until, "lease_until": until, "waiting_since": None,
                      "turn_at": None}  # fmt: skip
            if me is None:
                kept = _insert_ticket(conn, key, q, ids, linger)
            else:
                conn.execute(update(_T).where(_T.c.id == me.ticket).values(**linger))
                kept = me.ticket
        elif me is not None:
            conn.execute(delete(_T).where(_T.c.id == me.ticket))
        if me is not None and me.waiting_since is not None:
            # Admitted after waiting: drop the tickets nobody renewed (0012_tickets).
            conn.execute(delete(_T).where(_T.c.budget_key == key, _T.c.lease_until <= now_dt))
        return Seen(int(call_id), now_dt, blocked, server, blockers, kept, 0, at)
    wake = at
    if not (room and ahead == 0):
        wake = slot_at(_slots(conn, key, rates, ahead, margin), rates, ahead, at, margin)
        if blocked is not None:
            wake = max(wake, blocked.timestamp())
        if held is not None:
            wake = max(wake, held)
    ticket = me.ticket if me is not None else None
    if q.queue and math.isfinite(wake):
        # A heartbeat lease (0012_tickets): the waiter renews it by asking again, so the
        # ticket of one that died stops counting within hold + grace, not at its turn.
        lease = now_dt + timedelta(seconds=q.hold + q.grace)
        turn = now_dt + timedelta(seconds=wake - at)
        if me is None:
            times = {"arrived_at": now_dt, "waiting_since": now_dt, "lease_until": lease,
                     "turn_at": turn}  # fmt: skip
            ticket = _insert_ticket(conn, key, q, ids, times)
        elif me.waiting_since is None:  # back from its linger, it must wait: re-arrives now
            conn.execute(
                update(_T)
                .where(_T.c.id == me.ticket)
                .values(lease_until=lease, arrived_at=now_dt, waiting_since=now_dt, turn_at=turn)
            )
        else:
            conn.execute(
                update(_T).where(_T.c.id == me.ticket).values(lease_until=lease, turn_at=turn)
            )
        conn.execute(delete(_T).where(_T.c.budget_key == key, _T.c.lease_until <= now_dt))
        drop_spent(conn, key, now_dt)
    return Seen(None, now_dt, blocked, server, blockers, ticket, ahead, wake)


def _insert_ticket(
    conn: Connection, key: str, q: Queueing, ids: dict[str, Any], times: dict[str, Any]
) -> int:
    place = {
        "budget_key": key,
        "priority": q.priority,
        "rank": q.rank,
        "run_id": ids.get("run_id"),
        "task_id": ids.get("task_id"),
        **times,
    }
    return int(conn.execute(insert(_T).returning(_T.c.id), place).scalar_one())


def _queued_ms(me: Place | None, now: float) -> float | None:
    if me is None or me.waiting_since is None:
        return None
    return (now - me.waiting_since) * 1000.0


def _live_places(conn: Connection, key: str, now: datetime) -> list[Place]:
    found = conn.execute(
        select(
            _T.c.id, _T.c.priority, _T.c.rank, _T.c.arrived_at, _T.c.waiting_since, _T.c.turn_at
        ).where(_T.c.budget_key == key, _T.c.lease_until > now)
    ).all()
    return [
        Place(int(i), p, int(r), a.timestamp(), _epoch(w), _epoch(t))
        for i, p, r, a, w, t in found
    ]


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _hungry(conn: Connection, key: str, top: int | None, q: Queueing) -> frozenset[str]:
    if not top:
        return frozenset()
    span = min(q.share_span, int(top))
    priority = func.coalesce(_L.c.priority, DEFAULT_PRIORITY)
    # Rows weigh their calls (usage made elsewhere is one row of many), as on PostgreSQL.
    found = conn.execute(
        select(priority, func.sum(_L.c.weight))
        .where(_L.c.budget_key == key, _L.c.seq > int(top) - span)
        .group_by(priority)
    )
    counts = {str(p): int(n) for p, n in found}
    return starved(counts, span, q.shares)


def _counted_from(conn: Connection, key: str, back: int, margin: float) -> float | None:
    """When the row holding the call ``back`` calls before the newest counts from."""
    reserved, reported = conn.execute(_probe(1), {"key": key, "back0": back}).one()
    return counted_from(reserved, reported, margin)


def _slots(
    conn: Connection, key: str, rates: Sequence[Rate], ahead: int, margin: float
) -> list[float | None]:
    """Per rate, when the call whose leaving frees this waiter's slot counts from."""
    params = {
        f"back{i}": r.limit - 1 - ahead % r.limit
        for i, r in enumerate(x for x in rates if x.limit > 0)
    }
    if not params:
        return [None] * len(rates)
    found = conn.execute(_probe(len(params)), {"key": key, **params}).one()
    return blockers_from(rates, tuple(found), margin)
