"""Priority classes of the call budget, and per-class figures from the ledger.

Every reservation carries a class. While a caller of a higher class waits for room (it
holds a ticket in ``api_budget_tickets``), no caller of a lower class is admitted; within
a class, waiters are served by arrival. A class given a minimum share (``backfill=0.1``)
that got less than that share of the last ``share_span`` admissions is served first,
so it is slowed, never starved. The rule runs under the budget key's lock in the
database (``courtflow_admit()`` on PostgreSQL, :mod:`courtflow.budget.admission` on
SQLite), so it holds across processes and hosts like the budget itself; it is stated in
:mod:`courtflow.budget.model`. The names and the queue order live in the pure
:mod:`courtflow.budget.priorities` (re-exported here); this module adds what the ledger
says about each class.

>>> class_stats(engine, settings.budget_key, since)     # doctest: +SKIP
(ClassStats(priority='incremental', admitted=10, waiting=0, wait_p50_ms=812.0, ...), ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from courtflow.budget.ledger import db_now
from courtflow.budget.priorities import (
    BACKFILL,
    DEFAULT_PRIORITY,
    DEFAULT_SHARE_SPAN,
    INCREMENTAL,
    INTERACTIVE,
    LATE,
    RANKS,
    STARVED_BOOST,
    Place,
    ahead_of,
    effective_rank,
    parse_min_shares,
    parse_priority,
    rank,
    starved,
)
from courtflow.budget.tables import (
    EXTERNAL,
    api_budget_tickets,
    api_call_ledger,
    not_usage_key,
)

__all__ = [
    "BACKFILL",
    "DEFAULT_PRIORITY",
    "DEFAULT_SHARE_SPAN",
    "INCREMENTAL",
    "INTERACTIVE",
    "LATE",
    "RANKS",
    "STARVED_BOOST",
    "ClassStats",
    "Place",
    "ahead_of",
    "class_stats",
    "effective_rank",
    "parse_min_shares",
    "parse_priority",
    "rank",
    "starved",
]


# -- per-class figures ----------------------------------------------------------------


@dataclass(frozen=True)
class ClassStats:
    """One class of one budget key since a moment: admissions, queue waits, waiting now.

    Waits are measured from the ticket a refused caller takes to its admission (0 for
    calls admitted at once); ``share`` is of all calls admitted on the key since then.
    """

    priority: str
    admitted: int
    queued: int  # admissions that waited in the queue first
    share: float
    wait_mean_ms: float
    wait_p50_ms: float
    wait_p95_ms: float
    wait_max_ms: float
    waiting: int  # live tickets now


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def class_stats(
    engine: Engine, key: str | None, since: datetime, until: datetime | None = None
) -> tuple[ClassStats, ...]:
    """Per priority class of ``key`` (None: every key): calls admitted in ``[since, until]``
    and how long they waited.

    Every known class is listed (zeros when idle), highest first, then any other value
    found in the ledger; rows from before classes existed count as ``incremental``.
    ``api-usage/``'s own budget keys are left out.
    """
    L, T = api_call_ledger, api_budget_tickets
    calls = [L.c.reserved_at >= since, L.c.outcome != EXTERNAL]
    mine = []
    if key is not None:
        calls.append(L.c.budget_key == key)
        mine.append(T.c.budget_key == key)
    else:
        calls.append(not_usage_key(L.c.budget_key))
    if until is not None:
        calls.append(L.c.reserved_at <= until)
    with engine.connect() as conn:
        rows = conn.execute(select(L.c.priority, L.c.queued_ms).where(*calls)).all()
        now = db_now(conn)
        tickets = conn.execute(
            select(T.c.priority, func.count())
            .where(T.c.lease_until > now, *mine)
            .group_by(T.c.priority)
        )
        waiting = {str(p): int(n) for p, n in tickets}
    waits: dict[str, list[float]] = {}
    for priority, queued_ms in rows:
        waits.setdefault(priority or DEFAULT_PRIORITY, []).append(float(queued_ms or 0.0))
    total = len(rows)
    names = list(RANKS) + sorted(set(waits) - set(RANKS))
    out = []
    for name in names:
        found = sorted(waits.get(name, []))
        out.append(
            ClassStats(
                priority=name,
                admitted=len(found),
                queued=sum(1 for w in found if w > 0),
                share=len(found) / total if total else 0.0,
                wait_mean_ms=sum(found) / len(found) if found else 0.0,
                wait_p50_ms=_quantile(found, 0.5),
                wait_p95_ms=_quantile(found, 0.95),
                wait_max_ms=found[-1] if found else 0.0,
                waiting=int(waiting.get(name, 0)),
            )
        )
    return tuple(out)
