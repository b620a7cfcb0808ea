"""Each key's ledger rows as a log numbered by ``seq``: gap-free, in time order.

With no gaps, the N-th newest row of a key is the row with ``seq = newest - N + 1``: one
index lookup however many rows its window holds, and a count since a moment is a
subtraction of two seqs. Rows are only added at the end (reservations) or slotted in by
time with a renumbering of the rows after them (external usage, rare); purges remove a
prefix. So the numbering stays gap-free and in time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    Text,
    bindparam,
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
    """``column`` of the row ``:back`` rows before the newest: one index lookup."""
    return (
        select(column)
        .where(_L.c.budget_key == KEY, _L.c.seq == top_seq() - bindparam(back, type_=BigInteger()))
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


def count_since(conn: Connection, key: str, since: datetime) -> int:
    """Rows of ``key`` newer than ``since`` (every outcome counts): seq arithmetic, no scan."""
    before = func.coalesce(_last_seq_at_or_before(key, since), _seq_bound(key, False) - 1)
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
    """Slot ``count`` rows for calls made elsewhere (same token) into the log at ``reserved_at``.

    Call under :func:`lock_key`. The rows after them are renumbered so that seq stays
    gap-free and in time order: rare, and bounded by the rows newer than ``reserved_at``.
    """
    if count <= 0:
        return
    top, first, before = conn.execute(
        select(
            _seq_bound(key, True), _seq_bound(key, False), _last_seq_at_or_before(key, reserved_at)
        )
    ).one()
    rows = [{"budget_key": key, "reserved_at": reserved_at, "outcome": EXTERNAL}] * count
    if top is None:
        conn.execute(insert(_L), [{**row, "seq": i + 1} for i, row in enumerate(rows)])
        return
    base = int(before) if before is not None else int(first) - 1
    # Park the later rows and the new ones above every final number, then renumber them
    # in time order: no unique (key, seq) clash at any step, on either database.
    parked = int(top) + count + 1
    conn.execute(
        update(_L)
        .where(_L.c.budget_key == key, _L.c.seq > base)
        .values(seq=_L.c.seq + (parked - base))
    )
    first_new = parked + (int(top) - base) + 1
    conn.execute(insert(_L), [{**row, "seq": first_new + i} for i, row in enumerate(rows)])
    ranked = (
        select(_L.c.id, func.row_number().over(order_by=(_L.c.reserved_at, _L.c.id)).label("rn"))
        .where(_L.c.budget_key == key, _L.c.seq > base)
        .subquery()
    )
    conn.execute(update(_L).where(_L.c.id == ranked.c.id).values(seq=ranked.c.rn + base))
