"""Priority classes of the call budget: names, ranks, minimum shares, per-class figures.

Every reservation carries a class. While a caller of a higher class waits for room (it
holds a ticket in ``api_budget_tickets``), no caller of a lower class is admitted; within
a class, waiters are served by arrival. A class given a minimum share (``backfill=0.1``)
that got less than that share of the last ``share_span`` admissions is served first,
so it is slowed, never starved. The rule runs under the budget key's lock in the
database (``courtflow_admit()`` on PostgreSQL, :mod:`courtflow.budget.admission` on
SQLite), so it holds across processes and hosts like the budget itself.

>>> class_stats(engine, settings.budget_key, since)     # doctest: +SKIP
(ClassStats(priority='incremental', admitted=10, waiting=0, wait_p50_ms=812.0, ...), ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from courtflow.errors import ConfigError

if TYPE_CHECKING:  # DAG files import the class names: keep SQLAlchemy out of their parse
    from sqlalchemy import Engine

INTERACTIVE: Final = "interactive"
INCREMENTAL: Final = "incremental"
BACKFILL: Final = "backfill"
# Higher rank, served first. Ranks travel with each ticket, so every worker of a key
# must agree on them: they are fixed here, not configurable.
RANKS: Final[Mapping[str, int]] = {INTERACTIVE: 3, INCREMENTAL: 2, BACKFILL: 1}
DEFAULT_PRIORITY: Final = INCREMENTAL
# Admissions a minimum share is measured over: recent enough to react within a few
# calls, long enough that a share of 0.05 means something.
DEFAULT_SHARE_SPAN: Final = 100


def parse_priority(value: str | None, *, name: str = "priority") -> str:
    """A class name (case-insensitive); None gives the default class."""
    if value is None or not str(value).strip():
        return DEFAULT_PRIORITY
    text = str(value).strip().lower()
    if text not in RANKS:
        raise ConfigError(f"{name}: unknown priority class {value!r}; known: {', '.join(RANKS)}")
    return text


def rank(priority: str) -> int:
    return RANKS[parse_priority(priority)]


def parse_min_shares(value: str | Mapping[str, float] | None) -> tuple[tuple[str, float], ...]:
    """``"backfill=0.1,incremental=0.2"`` (or a mapping) -> sorted ``(class, share)`` pairs.

    Shares are fractions of admissions in (0, 1); together below 1, or every class
    would be "starved" at once and the order would mean nothing.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        pairs: list[tuple[str, str]] = []
        for item in value.split(","):
            if not item.strip():
                continue
            cls, sep, fraction = item.partition("=")
            if not sep:
                raise ConfigError(f"min share {item!r}: expected CLASS=FRACTION (backfill=0.1)")
            pairs.append((cls, fraction))
        items: Iterable[tuple[str, object]] = pairs
    else:
        items = value.items()
    shares: dict[str, float] = {}
    for cls, raw in items:
        name = parse_priority(cls, name="min share")
        try:
            share = float(str(raw))
        except ValueError:
            raise ConfigError(f"min share of {name}: expected a fraction, got {raw!r}") from None
        if not 0.0 < share < 1.0:
            raise ConfigError(f"min share of {name} must be in (0, 1), got {share}")
        shares[name] = share
    if sum(shares.values()) >= 1.0:
        raise ConfigError(f"min shares add up to {sum(shares.values()):g}; keep them below 1")
    return tuple(sorted(shares.items()))


def starved(
    recent: Mapping[str, int], considered: int, shares: Iterable[tuple[str, float]]
) -> frozenset[str]:
    """Classes that got less than their minimum share of the last ``considered`` admissions."""
    if considered <= 0:
        return frozenset()
    return frozenset(c for c, share in shares if recent.get(c, 0) < share * considered)


# A waiter this late for its turn (asleep on a busy host, a task resuming from a
# deferral) no longer holds up its equals; a higher class always holds up lower ones.
LATE: Final = 0.1

# Starved classes rank above every class: enough to lift them over interactive.
STARVED_BOOST: Final = 1000


def effective_rank(priority: str | None, base: int, hungry: frozenset[str]) -> int:
    return base + (STARVED_BOOST if priority in hungry else 0)


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
    from sqlalchemy import func, select

    from courtflow.budget.ledger import db_now  # ledger imports this module
    from courtflow.budget.tables import EXTERNAL, api_budget_tickets, api_call_ledger
    from courtflow.budget.usage_sync import not_usage_key

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


# -- the queue rule (SQLite path and tests; courtflow_admit() on PostgreSQL) -------------


@dataclass(frozen=True)
class Place:
    """One ticket in the queue: its class, rank and arrival (epoch seconds, database clock)."""

    ticket: int
    priority: str
    rank: int
    arrived_at: float
    waiting_since: float | None = None  # None: admitted, back within its linger
    turn_at: float | None = None  # when its holder is expected back


def ahead_of(
    me: Place | None, my_priority: str, my_rank: int, others: Iterable[Place],
    hungry: frozenset[str], now: float,
) -> int:  # fmt: skip
    """How many live tickets are served before a caller (``me``: its ticket, None: none yet).

    A ticket goes first when its effective rank is higher, or equal and it arrived
    earlier (ties by ticket id). A caller without a ticket, or back within its linger,
    arrives ``now``, after its equals that arrived by then. A lingering ticket
    "arrives" when its linger ends: it holds off lower classes, never its equals.
    """
    mine = effective_rank(my_priority, my_rank, hungry)
    count = 0
    for other in others:
        if me is not None and other.ticket == me.ticket:
            continue
        theirs = effective_rank(other.priority, other.rank, hungry)
        if theirs > mine:
            count += 1
        elif theirs == mine:
            if other.turn_at is not None and other.turn_at <= now - LATE:
                continue  # late for its turn: it does not hold its equals up
            if me is None:
                count += other.arrived_at <= now
            else:
                count += (other.arrived_at, other.ticket) < (me.arrived_at, me.ticket)
    return count
