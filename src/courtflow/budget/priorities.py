"""Priority classes: names, ranks, minimum shares, and who in the queue goes first. Pure.

Every reservation carries a class. While a caller of a higher class waits for room (it
holds a ticket in ``api_budget_tickets``), no caller of a lower class is admitted; within
a class, waiters are served by arrival. A class given a minimum share (``backfill=0.1``)
that got less than that share of the last ``share_span`` admissions is served first,
so it is slowed, never starved. The whole rule is stated in
:mod:`courtflow.budget.model`; this module holds its class names and the queue order
for the SQLite path (:mod:`courtflow.budget.admission`). No SQL, no I/O: configuration
and DAG files import the names from here (or :mod:`courtflow.budget.classes`, which
re-exports them beside the per-class figures).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from courtflow.errors import ConfigError

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


# -- the queue order (SQLite path and tests; courtflow_admit() on PostgreSQL) -------------


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
