"""The database side of the budget: reserve, record, block, server rates, external rows.

Functions take a :class:`~sqlalchemy.Connection`; the caller owns the transaction and
commits right away (``with engine.begin() as conn``), because a reservation's lock lasts
until that commit. On PostgreSQL an AUTOCOMMIT connection is best for
:func:`try_reserve`: the lock is then held only while the server runs the reservation.

Reserving serialises on the budget key, then reads the clock, the block and, per rate,
the N-th newest row; it inserts the row only if every window has room
(:func:`courtflow.budget.waits.room_at`). ``seq`` numbers each key's rows without gaps
in time order, so the N-th newest is one index lookup, whatever the window holds.

Who gets the room is the waiters' queue's to decide (priority classes, then arrival;
:mod:`courtflow.budget.admission`), checked in the same call under the same lock.

- PostgreSQL: ``courtflow_admit()`` (migration ``0005_budget_classes``; it extends
  ``courtflow_reserve()`` of ``0002_budget``) does it in one round trip:
  ``pg_advisory_xact_lock`` on the key (a ``SELECT … FOR UPDATE`` over window rows
  would lock nothing while the window is empty), then reads that each take a fresh
  snapshot, so they see every row committed before the lock was granted. The commit is
  asynchronous unless ``synchronous=True``: a server crash may forget the last fraction
  of a second of reservations, traded for a lock held ~0.1 ms instead of an fsync.
- SQLite: the ``BEGIN IMMEDIATE`` that :func:`courtflow.store.engine.make_engine` issues
  is the lock; the same rule runs in Python (:func:`courtflow.budget.admission.admit_sqlite`).

Time is the database's clock (``clock_timestamp()``; SQLite ``'now'``, in milliseconds),
so hosts with skewed clocks agree. SQLite is one host's file anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    case,
    delete,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from courtflow.budget.admission import SQLITE_NOW, Queueing, Seen, admit_pg, admit_sqlite
from courtflow.budget.rates import Rate, format_rates, parse_rates, tighter, with_headroom
from courtflow.budget.tables import (
    EXTERNAL,
    api_budget_blocks,
    api_budget_tickets,
    api_call_ledger,
)
from courtflow.budget.waits import room_at
from courtflow.client.gate import CallReport
from courtflow.store.coltypes import UTCDateTime

# pg_advisory_xact_lock(int4, int4): a fixed class id keeps courtflow's locks apart from
# other applications' advisory locks. courtflow_reserve() uses the same number.
LOCK_CLASS = 0x43664C77  # 1130777719, "CfLw"
_L = api_call_ledger
_B = api_budget_blocks
_MAX_REPLANS = 3  # re-reads when another worker changed the server rates meanwhile


@dataclass(frozen=True)
class Reservation:
    """The answer to one reservation attempt; times are epoch seconds, database clock.

    ``available_at`` is ``now`` when granted, else the earliest moment every window has
    room and no block holds (``math.inf``: never, a rate of 0 calls).
    """

    granted: bool
    call_id: int | None
    now: float
    available_at: float
    rates: tuple[Rate, ...] = ()  # the rates checked: configured, plus the server's if tighter
    server_rates: str | None = None  # as stored for the key (comma-separated), if any
    ticket: int | None = None  # the caller's place in the queue (kept for its linger once granted)
    ahead: int = 0  # waiters served before this caller

    @property
    def ready(self) -> bool:
        """Granted, or (a peek) the caller's turn has come and there is room."""
        return self.granted or self.available_at <= self.now

    @property
    def wait(self) -> float:
        return max(0.0, self.available_at - self.now)


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


_SQLITE_NOW = SQLITE_NOW


def _clock(conn: Connection) -> ColumnElement[datetime]:
    return type_coerce(func.clock_timestamp() if _is_pg(conn) else _SQLITE_NOW, UTCDateTime())


def epoch(value: datetime) -> float:
    return value.timestamp()


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def db_now(conn: Connection) -> datetime:
    """The database's current time (aware, UTC)."""
    value: datetime | None = conn.execute(select(_clock(conn))).scalar_one()
    assert value is not None
    return value


_LOCK = text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:key))")


def lock_key(conn: Connection, key: str) -> None:
    """Serialise with every reservation on ``key`` until this transaction ends."""
    if _is_pg(conn):
        conn.execute(_LOCK, {"lock_class": LOCK_CLASS, "key": key})
    # SQLite: the transaction began with BEGIN IMMEDIATE; it already holds the write lock.


# -- reserving -------------------------------------------------------------------------


def _ready(seen: Seen, rates: Sequence[Rate], margin: float) -> float:
    """When ``seen`` lets a call go: 0.0 now, else the later of windows and block."""
    now = epoch(seen.now)
    ready = room_at(seen.blockers, rates, now, margin)
    if seen.blocked_until is not None and epoch(seen.blocked_until) > now:
        ready = max(ready, epoch(seen.blocked_until))
    return ready


def _epoch_or_none(value: datetime | None) -> float | None:
    return None if value is None else epoch(value)


def effective_rates(
    rates: Sequence[Rate], server_rates: str | None, headroom: float
) -> tuple[Rate, ...]:
    """The configured rates, plus the server-reported ones (less headroom) where tighter."""
    if not server_rates:
        return tuple(rates)
    server = with_headroom(parse_rates(server_rates), headroom)
    return tuple(rates) + tuple(r for r in tighter(rates, server) if r not in rates)


def try_reserve(
    conn: Connection,
    key: str,
    rates: Sequence[Rate],
    margin: float,
    endpoint: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    dag_id: str | None = None,
    *,
    attempt: int | None = None,
    server_headroom: float | None = None,
    server_rates: str | None = None,
    synchronous: bool = False,
    queueing: Queueing | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Reserve one call on ``key`` if every window of ``rates`` has room, atomically.

    With ``server_headroom`` set, the rates the server reported for ``key`` (stored by
    :func:`set_server_rates`, shared by every worker) are enforced too, less that
    headroom; ``server_rates`` is the caller's last known copy (``Reservation.server_rates``),
    so the usual case costs no extra read. Never waits: a refusal says when to retry.
    ``queueing`` gives the caller's class and place in the waiters' queue
    (:mod:`courtflow.budget.admission`); by default an ``incremental`` caller that takes
    no ticket. ``now`` replaces the database clock: for tests replaying a schedule
    (``courtflow.budget.model``); production never passes it.
    """
    ids = {
        "endpoint": endpoint,
        "attempt": attempt,
        "run_id": run_id,
        "task_id": task_id,
        "dag_id": dag_id,
    }
    q = queueing or Queueing()
    check = server_headroom is not None
    known = server_rates if check else None
    for _ in range(_MAX_REPLANS):
        effective = effective_rates(rates, known, server_headroom or 0.0)
        if _is_pg(conn):
            seen = admit_pg(conn, key, effective, margin, known, check, ids, synchronous, q, now)
        else:
            seen = admit_sqlite(conn, key, effective, margin, known, check, ids, q, now)
        moment = epoch(seen.now)
        if seen.call_id is not None:
            return Reservation(
                True, seen.call_id, moment, moment, tighter(effective), seen.server_rates,
                seen.ticket, 0,
            )  # fmt: skip
        q = replace(q, ticket=seen.ticket)
        if check and seen.server_rates != known:
            known = seen.server_rates  # another worker learnt new server rates: re-plan
            continue
        if q.peek and seen.ahead == 0 and seen.wake <= moment:  # its turn, with room: it may go
            return Reservation(
                False, None, moment, moment, tighter(effective), seen.server_rates, seen.ticket, 0
            )
        # The database and room_at() apply the same rule; should rounding ever make them
        # disagree at a boundary, retry a millisecond later rather than spin.
        ready = max(seen.wake, _ready(seen, effective, margin), moment + 0.001)
        return Reservation(
            False, None, moment, ready, tighter(effective), seen.server_rates, seen.ticket,
            seen.ahead,
        )  # fmt: skip
    moment = epoch(seen.now)
    return Reservation(
        False, None, moment, moment + 0.001, tighter(effective), seen.server_rates, seen.ticket,
        seen.ahead,
    )  # fmt: skip


# -- reporting, blocks, server rates ---------------------------------------------------


def record(conn: Connection, call_id: int, report: CallReport) -> None:
    """Store what happened to a reserved call (the row keeps its place in the windows)."""
    conn.execute(
        update(_L)
        .where(_L.c.id == call_id)
        .values(
            outcome=report.outcome,
            status=report.status,
            duration_ms=report.duration_ms,
            bytes=report.bytes,
            attempt=report.attempt,
            error_class=report.error_class,
            reported_at=_clock(conn),
        )
    )


def upsert_insert(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT support."""
    return postgresql.insert if _is_pg(conn) else sqlite.insert


def block(conn: Connection, key: str, until: datetime, reason: str) -> datetime:
    """Hold every worker of ``key`` until ``until``; an earlier block never shortens it.

    Returns the block now in force.
    """
    stmt = upsert_insert(conn)(_B).values(
        budget_key=key, blocked_until=until, reason=reason, updated_at=_clock(conn)
    )
    current, new = _B.c.blocked_until, stmt.excluded.blocked_until
    extends = current.is_(None) | (current < new)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_B.c.budget_key],
            set_={
                "blocked_until": case((extends, new), else_=current),
                "reason": case((extends, stmt.excluded.reason), else_=_B.c.reason),
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    value: datetime | None = conn.execute(
        select(_B.c.blocked_until).where(_B.c.budget_key == key)
    ).scalar_one()
    assert value is not None
    return value


def set_server_rates(conn: Connection, key: str, rates: Sequence[Rate] | None) -> None:
    """Share the rates the server reported for ``key`` with every worker (None: forget)."""
    textual = format_rates(rates) if rates else None
    stmt = upsert_insert(conn)(_B).values(
        budget_key=key, server_rates=textual, updated_at=_clock(conn)
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_B.c.budget_key],
            set_={
                "server_rates": stmt.excluded.server_rates,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )


def read_state(conn: Connection, key: str) -> tuple[datetime, datetime | None, str | None]:
    """``(now, blocked_until, server_rates)`` for ``key``."""
    row = conn.execute(
        select(
            _clock(conn),
            select(_B.c.blocked_until).where(_B.c.budget_key == key).scalar_subquery(),
            select(_B.c.server_rates).where(_B.c.budget_key == key).scalar_subquery(),
        )
    ).one()
    return row[0], row[1], row[2]


# -- tickets -----------------------------------------------------------------------------


def hold_ticket(conn: Connection, key: str, ticket: int, seconds: float) -> None:
    """Keep ``ticket``'s lease for at least ``seconds`` from now (database clock)."""
    until = db_now(conn) + timedelta(seconds=max(0.0, seconds))
    T = api_budget_tickets
    conn.execute(
        update(T)
        .where(T.c.id == ticket, T.c.budget_key == key, T.c.lease_until < until)
        .values(lease_until=until)
    )


def release_ticket(conn: Connection, key: str, ticket: int) -> None:
    """Remove ``ticket`` from ``key``'s queue."""
    T = api_budget_tickets
    conn.execute(delete(T).where(T.c.id == ticket, T.c.budget_key == key))


def drop_expired_tickets(conn: Connection, key: str) -> int:
    """Delete ``key``'s tickets whose lease has run out; returns how many."""
    T = api_budget_tickets
    result = conn.execute(delete(T).where(T.c.budget_key == key, T.c.lease_until <= db_now(conn)))
    return int(result.rowcount or 0)


# -- usage made elsewhere: what api-usage/ said, and what the ledger knows of ours -----

# Statuses of answers the server's throttle had admitted (it counts them): not 401/403
# (refused before the throttle), not 429 (refused by it), not a proxy's 502-504.
_UNCOUNTED = (401, 403, 429, 502, 503, 504)


@dataclass(frozen=True)
class UsageSnapshot:
    """The latest ``api-usage/`` answer kept for ``key``; times on the database clock."""

    payload: str | None
    asked_at: datetime | None
    applied_at: datetime | None


def read_usage(conn: Connection, key: str) -> UsageSnapshot:
    row = conn.execute(
        select(_B.c.usage_payload, _B.c.usage_asked_at, _B.c.usage_applied_at).where(
            _B.c.budget_key == key
        )
    ).one_or_none()
    return UsageSnapshot(None, None, None) if row is None else UsageSnapshot(*row)


def store_usage(conn: Connection, key: str, payload: str, asked_at: datetime) -> None:
    """Share an answer with every worker, unless a newer one is already kept."""
    stmt = upsert_insert(conn)(_B).values(
        budget_key=key, usage_payload=payload, usage_asked_at=asked_at, updated_at=_clock(conn)
    )
    current, new = _B.c.usage_asked_at, stmt.excluded.usage_asked_at
    newer = current.is_(None) | (current < new)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_B.c.budget_key],
            set_={
                "usage_payload": case(
                    (newer, stmt.excluded.usage_payload), else_=_B.c.usage_payload
                ),
                "usage_asked_at": case((newer, new), else_=current),
            },
        )
    )


def mark_usage_applied(conn: Connection, key: str, asked_at: datetime) -> None:
    stmt = upsert_insert(conn)(_B).values(
        budget_key=key, usage_applied_at=asked_at, updated_at=_clock(conn)
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_B.c.budget_key],
            set_={"usage_applied_at": stmt.excluded.usage_applied_at},
        )
    )


def ours_counted(conn: Connection, key: str, since: datetime, answered_by: datetime) -> int:
    """Our calls newer than ``since`` that the server certainly counted by ``answered_by``:
    answered (so they reached it) before then, with a status its throttle admitted."""
    value = conn.execute(
        select(func.count()).where(
            _L.c.budget_key == key,
            _L.c.reserved_at > since,
            _L.c.outcome != EXTERNAL,
            _L.c.status.is_not(None),
            _L.c.status.not_in(_UNCOUNTED),
            _L.c.reported_at <= answered_by,
        )
    ).scalar_one()
    return int(value)


def our_oldest(conn: Connection, key: str, since: datetime, lookback: float) -> datetime | None:
    """The oldest of our calls that may have reached the server after ``since``: answered
    after it or not yet; reserved at most ``lookback`` seconds before it (an older one
    never answered belongs to a worker that died long ago)."""
    value: datetime | None = conn.execute(
        select(func.min(_L.c.reserved_at)).where(
            _L.c.budget_key == key,
            _L.c.outcome != EXTERNAL,
            _L.c.reserved_at > since - timedelta(seconds=lookback),
            or_(_L.c.reported_at.is_(None), _L.c.reported_at > since),
        )
    ).scalar_one()
    return value


def has_external(conn: Connection, key: str, since: datetime) -> bool:
    """Whether ``key``'s ledger holds usage made elsewhere newer than ``since``."""
    found = conn.execute(
        select(_L.c.id)
        .where(_L.c.budget_key == key, _L.c.reserved_at > since, _L.c.outcome == EXTERNAL)
        .limit(1)
    ).first()
    return found is not None
