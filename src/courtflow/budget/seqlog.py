"""Each key's ledger rows as a log numbered by ``seq``: calls counted in time order.

A row stands for ``weight`` calls (1 for a reservation; usage made elsewhere is one row
of its count) and ``seq`` is the number of calls up to and including it. So the N-th
newest call of a key lives in the first row with ``seq >= newest - N + 1``: one index
probe however many rows its window holds, and a count since a moment is a subtraction
of two seqs. Rows are only added at the end (reservations) or slotted in by time with a
renumbering of the rows after them (external usage, rare); purges remove a prefix. So
the numbering stays cumulative and in time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from courtflow.budget.rates import Rate
from courtflow.budget.tables import EXTERNAL, api_call_ledger

_L = api_call_ledger


# Statements for the hot path take the key as a bound parameter so they are built once:
# building SQLAlchemy constructs per call would cost more than the database work.
KEY = bindparam("key", type_=Text())


def top_seq() -> Any:
    """The newest row's ``seq`` for ``:key`` (NULL when the key has no row)."""
    return (
        select(_L.c.seq)
        .where(_L.c.budget_key == KEY)
        .order_by(_L.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


def newest_reserved_at() -> Any:
    """The newest row's reservation time for ``:key``."""
    return (
        select(_L.c.reserved_at)
        .where(_L.c.budget_key == KEY, _L.c.seq == top_seq())
        .scalar_subquery()
    )


def nth_newest_at(back: str, column: Any) -> Any:
    """``column`` of the row holding the call ``:back`` calls before the newest (NULL when
    the log holds fewer calls): one index probe."""
    target = top_seq() - bindparam(back, type_=BigInteger())
    first = (
        select(_L.c.seq)
        .where(_L.c.budget_key == KEY, _L.c.seq >= target)
        .order_by(_L.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(column)
        .where(_L.c.budget_key == KEY, _L.c.seq == first, _L.c.seq - _L.c.weight < target)
        .scalar_subquery()
    )


def counted_from(
    reserved_at: datetime | None, reported_at: datetime | None, margin: float
) -> float | None:
    """When a row's call may have reached the server, for the window rule (epoch seconds).

    An unreported call counts from its reservation, and the margin covers its way to the
    server. A reported call reached the server before its report, so it may leave its
    window a period after the report, margin or not: ``reported_at - margin`` here, as
    :func:`courtflow.budget.waits.room_at` adds the margin back.
    """
    if reserved_at is None:
        return None
    start = reserved_at.timestamp()
    if reported_at is None:
        return start
    return max(start, reported_at.timestamp() - margin)


def _last_seq_at_or_before(key: str, moment: datetime) -> Any:
    """seq of the newest row not after ``moment``: one step down the time index."""
    return (
        select(_L.c.seq)
        .where(_L.c.budget_key == key, _L.c.reserved_at <= moment)
        .order_by(_L.c.reserved_at.desc(), _L.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


def _seq_bound(key: str, newest: bool) -> Any:
    order = _L.c.seq.desc() if newest else _L.c.seq.asc()
    return select(_L.c.seq).where(_L.c.budget_key == key).order_by(order).limit(1).scalar_subquery()


def _calls_before_log(key: str) -> Any:
    """Calls counted before the key's first row (purged ones): its seq less its weight."""
    return (
        select(_L.c.seq - _L.c.weight)
        .where(_L.c.budget_key == key)
        .order_by(_L.c.seq)
        .limit(1)
        .scalar_subquery()
    )


def count_since(conn: Connection, key: str, since: datetime) -> int:
    """Calls of ``key`` newer than ``since`` (every outcome counts): seq arithmetic, no scan."""
    before = func.coalesce(_last_seq_at_or_before(key, since), _calls_before_log(key))
    value = conn.execute(select(_seq_bound(key, True) - before)).scalar()
    return int(value or 0)


def probe_columns(count: int) -> list[Any]:
    """Reservation and report times of the ``back<i>``-th rows, ``i < count``."""
    return [
        nth_newest_at(f"back{i}", column)
        for i in range(count)
        for column in (_L.c.reserved_at, _L.c.reported_at)
    ]


def blockers_from(
    rates: Sequence[Rate], found: Sequence[datetime | None], margin: float
) -> list[float | None]:
    """Per rate, :func:`counted_from` of its N-th newest row (pairs in ``found``)."""
    pairs = iter(zip(found[0::2], found[1::2], strict=True))
    return [counted_from(*next(pairs), margin) if r.limit > 0 else None for r in rates]


def backs(rates: Sequence[Rate]) -> dict[str, int]:
    """Bound parameters ``back<i>`` = N - 1 for every rate that admits calls at all."""
    return {f"back{i}": r.limit - 1 for i, r in enumerate(x for x in rates if x.limit > 0)}


def nth_newest(
    conn: Connection, key: str, rates: Sequence[Rate], margin: float
) -> list[float | None]:
    """Per rate, when its ``limit``-th newest row counts from (None: fewer rows)."""
    params = backs(rates)
    if not params:
        return [None] * len(rates)
    found = conn.execute(_probe(len(params)), {"key": key, **params}).one()
    return blockers_from(rates, tuple(found), margin)


@lru_cache(maxsize=64)
def _probe(probes: int) -> Select[Any]:
    return select(*probe_columns(probes))


def insert_external(conn: Connection, key: str, reserved_at: datetime, count: int) -> None:
    """Slot one row of ``count`` calls made elsewhere (same token) in at ``reserved_at``."""
    rewrite_external(conn, key, [(reserved_at, count)])


def rewrite_external(
    conn: Connection,
    key: str,
    rows: Sequence[tuple[datetime, int]],
    *,
    drop_after: datetime | None = None,
) -> int:
    """Replace ``key``'s external rows newer than ``drop_after`` (None: keep them all) by
    ``rows`` (time, calls), slotted in by time; the rows after them are renumbered.

    Call under :func:`courtflow.budget.ledger.lock_key`. Work is bounded by the rows newer
    than the earliest change, whatever the weights. Returns the external calls removed.
    """
    rows = [(at, weight) for at, weight in rows if weight > 0]
    changes = [at for at, _ in rows] + ([drop_after] if drop_after is not None else [])
    if not changes:
        return 0
    cut = min(changes) - _BEFORE
    top, before, purged = conn.execute(
        select(_seq_bound(key, True), _last_seq_at_or_before(key, cut), _calls_before_log(key))
    ).one()
    base = int(before if before is not None else purged or 0)
    removed = 0
    if drop_after is not None:
        stale = (_L.c.budget_key == key, _L.c.outcome == EXTERNAL, _L.c.reserved_at > drop_after)
        removed = int(
            conn.execute(select(func.coalesce(func.sum(_L.c.weight), 0)).where(*stale)).scalar_one()
        )
        conn.execute(delete(_L).where(*stale))
    # Park the later rows and the new ones on negative numbers (no clash with the rows
    # that keep theirs), then number them in time order.
    after = (_L.c.budget_key == key, _L.c.reserved_at > cut)
    conn.execute(update(_L).where(*after).values(seq=-_L.c.seq))
    if rows:
        parked = int(top or 0) + 1
        new = [
            {"budget_key": key, "reserved_at": at, "outcome": EXTERNAL, "weight": weight,
             "seq": -(parked + i)}
            for i, (at, weight) in enumerate(rows)
        ]  # fmt: skip
        conn.execute(insert(_L), new)
    running = func.sum(_L.c.weight).over(order_by=(_L.c.reserved_at, _L.c.id))
    ranked = select(_L.c.id, running.label("calls")).where(*after).subquery()
    conn.execute(update(_L).where(_L.c.id == ranked.c.id).values(seq=ranked.c.calls + base))
    return removed


# Rows at the earliest change itself are renumbered too (timestamps may be rounded).
_BEFORE = timedelta(milliseconds=1)
