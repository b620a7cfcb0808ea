"""The database side of the budget: reserve, record, block, server rates, external rows.

Functions take a :class:`~sqlalchemy.Connection`; the caller owns the transaction and
commits right away (``with engine.begin() as conn``), because a reservation's lock lasts
until that commit. On PostgreSQL an AUTOCOMMIT connection is best for
:func:`try_reserve`: the lock is then held only while the server runs the reservation.

Reserving serialises on the budget key, then reads the clock, the block and, per rate,
the N-th newest row; it inserts the row only if every window has room
(:func:`courtflow.budget.waits.room_at`). ``seq`` numbers each key's rows without gaps
in time order, so the N-th newest is one index lookup, whatever the window holds.

- PostgreSQL: ``courtflow_reserve()`` (migration ``0002_budget``) does it in one round
  trip: ``pg_advisory_xact_lock`` on the key (a ``SELECT … FOR UPDATE`` over window
  rows would lock nothing while the window is empty), then reads that each take a fresh
  snapshot, so they see every row committed before the lock was granted. The commit is
  asynchronous unless ``synchronous=True``: a server crash may forget the last fraction
  of a second of reservations, traded for a lock held ~0.1 ms instead of an fsync.
- SQLite: the ``BEGIN IMMEDIATE`` that :func:`courtflow.store.engine.make_engine` issues
  is the lock; the same rule runs here in Python.

Time is the database's clock (``clock_timestamp()``; SQLite ``'now'``, in milliseconds),
so hosts with skewed clocks agree. SQLite is one host's file anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    case,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from courtflow.budget.rates import Rate, format_rates, parse_rates, tighter, with_headroom
from courtflow.budget.seqlog import (
    KEY,
    backs,
    blockers_from,
    newest_reserved_at,
    probe_columns,
    top_seq,
)
from courtflow.budget.tables import EXTERNAL, RESERVED, api_budget_blocks, api_call_ledger
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

    @property
    def wait(self) -> float:
        return max(0.0, self.available_at - self.now)


@dataclass(frozen=True)
class _Seen:
    """One reservation attempt's view of the key, taken under its lock."""

    call_id: int | None
    now: datetime
    blocked_until: datetime | None
    server_rates: str | None
    blockers: tuple[float | None, ...]  # per rate: when its N-th newest call counts from


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


_SQLITE_NOW = func.strftime("%Y-%m-%d %H:%M:%f", "now")


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

# The hot path: one fixed, parameterised statement sent on the driver's connection
# directly; SQLAlchemy's execution machinery would cost more CPU than the database
# spends on the whole reservation (measured in benchmarks/budget_bench.py).
_PG_RESERVE = (
    "SELECT o_call_id, o_now, o_blocked_until, o_server_rates, o_blockers"
    " FROM courtflow_reserve(%(key)s::text, %(limits)s::integer[],"
    " %(windows)s::double precision[], %(margin)s::double precision, %(endpoint)s::text,"
    " %(attempt)s::integer, %(run_id)s::text, %(task_id)s::text, %(dag_id)s::text,"
    " %(server_rates)s::text, %(check)s::boolean, %(synchronous)s::boolean)"
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


def _reserve_pg(
    conn: Connection,
    key: str,
    rates: Sequence[Rate],
    margin: float,
    known: str | None,
    check: bool,
    ids: dict[str, Any],
    synchronous: bool,
) -> _Seen:
    limits, windows = _pg_arrays(tuple(rates), margin)
    params = {
        "key": key,
        "limits": limits,
        "windows": windows,
        "margin": margin,
        "server_rates": known,
        "check": check,
        "synchronous": synchronous,
        **ids,
    }
    driver: Any = conn.connection.driver_connection
    dbapi: Any = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor:
            cursor.execute(_PG_RESERVE, params)
            call_id, now, blocked, server, blockers = cursor.fetchone()
    except dbapi.Error as exc:
        # What SQLAlchemy would do for its own statements: drop a dead connection and
        # raise its exception classes, so callers can tell a disconnect and retry.
        gone = conn.dialect.is_disconnect(exc, driver, None)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            _PG_RESERVE, params, exc, dbapi.Error, connection_invalidated=gone
        ) from exc
    return _Seen(call_id, now, blocked, server, tuple(_epoch_or_none(b) for b in blockers))


@lru_cache(maxsize=64)
def _head(dialect: str, probes: int) -> Select[Any]:
    clock = func.clock_timestamp() if dialect == "postgresql" else _SQLITE_NOW
    return select(
        type_coerce(clock, UTCDateTime()),
        select(_B.c.blocked_until).where(_B.c.budget_key == KEY).scalar_subquery(),
        select(_B.c.server_rates).where(_B.c.budget_key == KEY).scalar_subquery(),
        top_seq(),
        newest_reserved_at(),
        *probe_columns(probes),
    )


_INSERT = insert(_L).returning(_L.c.id)


def _reserve_sqlite(
    conn: Connection,
    key: str,
    rates: Sequence[Rate],
    margin: float,
    known: str | None,
    check: bool,
    ids: dict[str, Any],
) -> _Seen:
    params = backs(rates)
    row = conn.execute(_head(conn.dialect.name, len(params)), {"key": key, **params})
    now, blocked, server, top, newest, *found = row.one()
    seen = _Seen(None, now, blocked, server, tuple(blockers_from(rates, found, margin)))
    if _ready(seen, rates, margin) > 0.0 or (check and server != known):
        return seen
    # A clock stepped back must not break "seq order is time order".
    stamp = now if newest is None or newest <= now else newest
    values = {
        "budget_key": key,
        "seq": (top or 0) + 1,
        "reserved_at": stamp,
        "outcome": RESERVED,
        **ids,
    }
    call_id = conn.execute(_INSERT, values).scalar_one()
    return _Seen(int(call_id), now, blocked, server, seen.blockers)


def _ready(seen: _Seen, rates: Sequence[Rate], margin: float) -> float:
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
) -> Reservation:
    """Reserve one call on ``key`` if every window of ``rates`` has room, atomically.

    With ``server_headroom`` set, the rates the server reported for ``key`` (stored by
    :func:`set_server_rates`, shared by every worker) are enforced too, less that
    headroom; ``server_rates`` is the caller's last known copy (``Reservation.server_rates``),
    so the usual case costs no extra read. Never waits: a refusal says when to retry.
    """
    ids = {
        "endpoint": endpoint,
        "attempt": attempt,
        "run_id": run_id,
        "task_id": task_id,
        "dag_id": dag_id,
    }
    check = server_headroom is not None
    known = server_rates if check else None
    for _ in range(_MAX_REPLANS):
        effective = effective_rates(rates, known, server_headroom or 0.0)
        if _is_pg(conn):
            seen = _reserve_pg(conn, key, effective, margin, known, check, ids, synchronous)
        else:
            seen = _reserve_sqlite(conn, key, effective, margin, known, check, ids)
        now = epoch(seen.now)
        if seen.call_id is not None:
            return Reservation(True, seen.call_id, now, now, tighter(effective), seen.server_rates)
        if check and seen.server_rates != known:
            known = seen.server_rates  # another worker learnt new server rates: re-plan
            continue
        # The database and room_at() apply the same rule; should rounding ever make them
        # disagree at a boundary, retry a millisecond later rather than spin.
        ready = max(_ready(seen, effective, margin), now + 0.001)
        return Reservation(False, None, now, ready, tighter(effective), seen.server_rates)
    now = epoch(seen.now)
    return Reservation(False, None, now, now + 0.001, tighter(effective), seen.server_rates)


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
