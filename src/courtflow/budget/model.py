"""The admission rule of the call budget, stated once: a reference model. Pure.

This docstring is the specification. ``courtflow_admit()`` (PostgreSQL, latest text in
the newest migration defining it) and :func:`courtflow.budget.admission.admit_sqlite`
implement it under the budget key's lock;
``tests/integration/budget/test_budget_model_equivalence.py`` replays random schedules
against this model and both of them and demands the same decision at every step. The
model has no SQL and no clock: every step is told ``now`` (epoch seconds, the database's
clock), and it keeps one key's state in plain lists.

**State of one budget key**

- *The log*: rows in time order, each standing for ``weight`` calls: 1 for a
  reservation, the count for usage made elsewhere (one row, slotted in by its time after
  the rows of the same time). A reservation is stamped ``max(now, newest row's time)``.
  A call *counts from* its row's time; once reported, from ``max(time, reported -
  margin)``: it reached the server before its report.
- *The block*: a 429's Retry-After holds every caller until ``blocked_until``; a later
  429 may extend it, never shorten it.
- *Tickets* (the waiters' queue): class, rank, ``arrived_at``, ``waiting_since`` (none:
  admitted and lingering), ``turn_at`` (its expected turn), live while
  ``lease_until > now``.
- *Bookings*: ``need`` calls of a class at ``due_at``, live while ``lease_until > now``
  and ``need > 0``.

**One attempt** by a caller of class ``c`` and rank ``r`` (maybe holding ticket ``t``) at
``now``, under rates ``N_i/P_i`` and a margin ``m``; window ``W_i = P_i + m``:

1. *Room.* Rate ``i`` has room when ``N_i > 0`` and either the log holds fewer than
   ``N_i`` calls or its ``N_i``-th newest call (in log order) counts from ``b`` with
   ``b + W_i <= now``. No room while ``blocked_until > now``.
2. *Queue.* ``t`` counts only if live. Each other live ticket goes before the caller
   when its effective rank is higher; or equal, it is not late for its turn
   (``turn_at <= now - 0.1``), and it arrived first: before ``t``'s arrival
   (``(arrived_at, id)`` smaller) when ``t`` is waiting; at or before ``now`` when the
   caller has no waiting ticket (none, or back within its linger: it arrives now). The
   effective rank is the rank, plus 1000 for a *hungry* class: one with a minimum share
   ``s`` whose rows among the last ``span = min(share_span, calls logged)`` calls (a row
   is among them when its last call is) weigh less than ``s * span``; a row without a
   class (usage elsewhere) is ``incremental``. ``ahead`` counts those before; shares are
   only measured when another live ticket exists.
3. *Bookings* (only with room and ``ahead = 0``). Every live booking of a higher rank
   holds the caller back in each rate with ``N_i > 0`` whose window from now reaches
   past its due time (``now + W_i > due``). With ``burst = min(need, smallest positive
   N)``, ``k = N_i - burst - 1`` and ``ref = max(due, now)``: if ``k < 0``, until
   ``min(lease_until, ref + W_i)``; else, when the ``(k+1)``-th newest call counts from
   ``b`` with ``b + W_i > ref``, until ``b + W_i``. Held means no room.
4. *Admitted* with room, ``ahead = 0`` and not a peek: a row of one call of class ``c``
   is logged; the earliest-due (then first-made) live booking of class ``c`` due by
   ``now + 60 s`` needs one call less. With ``queue`` and ``linger > 0`` the caller
   keeps (or takes) a ticket, not waiting, arriving and lapsing at ``now + linger``;
   otherwise its ticket is removed. Decision: admitted, ``wake = now``, ``ahead = 0``.
5. *Refused* (or a peek). ``wake = now`` when there was room and ``ahead = 0``
   (a peek's "you may go"); else the latest of: per rate ``max(now, s_i + W_i) + W_i *
   (ahead // N_i)``, ``s_i`` when the ``(N_i - ahead mod N_i)``-th newest call counts
   from (``now`` with fewer calls); ``blocked_until``; the bookings' hold; infinite when
   some ``N_i = 0``. With ``queue`` and a finite wake, the caller takes a ticket
   (arriving and waiting since now) or renews its own (one back from its linger
   re-arrives now): ``turn_at = wake``, ``lease_until = now + hold + grace`` (a
   heartbeat: the waiter asks again within it, 0012_tickets); then lapsed tickets and
   lapsed or used-up bookings are dropped. Decision: refused, ``wake``, ``ahead``, the
   caller's live ticket (if any).

Outside attempts: a report sets a row's report time; giving up removes a ticket;
booking, cancelling, usage elsewhere and a 429 change the state as named.

>>> key = KeyModel()
>>> key.admit(100.0, (Rate(1, 10.0, "1/10s"),), 0.0, Ask("incremental", 2)).admitted
True
>>> key.admit(101.0, (Rate(1, 10.0, "1/10s"),), 0.0, Ask("incremental", 2)).wake
110.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from courtflow.budget.rates import Rate

__all__ = ["Ask", "Booking", "Decision", "KeyModel", "Rate", "Row", "Ticket"]

LATE: Final = 0.1  # a waiter this late for its turn no longer holds its equals up
HUNGRY_BOOST: Final = 1000  # a hungry class ranks above every class
EARLY: Final = 60.0  # an admission this long before a booking's due time uses it
UNCLASSED: Final = "incremental"  # the class of rows without one (usage elsewhere)


@dataclass(frozen=True)
class Ask:
    """One admission attempt: the caller's class and rank, ticket and queueing wishes."""

    priority: str
    rank: int
    ticket: int | None = None
    peek: bool = False
    queue: bool = False
    hold: float = 0.0
    grace: float = 5.0
    linger: float = 0.0
    shares: tuple[tuple[str, float], ...] = ()
    share_span: int = 100


@dataclass(frozen=True)
class Decision:
    """What one attempt decided: ``wake`` is ``now`` when admitted, ``math.inf`` never."""

    admitted: bool
    wake: float
    ahead: int
    ticket: int | None
    call: int | None = None  # the logged row's id when admitted


@dataclass(frozen=True)
class Row:
    id: int
    at: float
    weight: int
    priority: str | None
    reported_at: float | None = None


@dataclass(frozen=True)
class Ticket:
    id: int
    priority: str
    rank: int
    arrived_at: float
    waiting_since: float | None
    turn_at: float | None
    lease_until: float


@dataclass(frozen=True)
class Booking:
    id: int
    priority: str
    rank: int
    due_at: float
    need: int
    lease_until: float


class KeyModel:
    """One budget key's state and the rule over it (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.blocked_until: float | None = None
        self.tickets: list[Ticket] = []
        self.bookings: list[Booking] = []
        self._ids = 0

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- the log ---------------------------------------------------------------------
    def calls(self) -> int:
        return sum(r.weight for r in self.rows)

    def _counted_from(self, row: Row, margin: float) -> float:
        if row.reported_at is None:
            return row.at
        return max(row.at, row.reported_at - margin)

    def _nth_newest(self, n: int, margin: float) -> float | None:
        """When the ``n``-th newest call counts from (None: fewer calls, or n < 1)."""
        if n < 1:
            return None
        seen = 0
        for row in reversed(self.rows):
            seen += row.weight
            if seen >= n:
                return self._counted_from(row, margin)
        return None

    # -- one attempt -----------------------------------------------------------------
    def admit(self, now: float, rates: Sequence[Rate], margin: float, ask: Ask) -> Decision:
        """Steps 1 to 5 of the module docstring."""
        # 1. Room.
        room = True
        for rate in rates:
            blocker = self._nth_newest(rate.limit, margin)
            window = rate.period + margin
            if rate.limit <= 0 or (blocker is not None and blocker + window > now):
                room = False
        if self.blocked_until is not None and self.blocked_until > now:
            room = False
        # 2. Queue.
        live = [t for t in self.tickets if t.lease_until > now]
        me = next((t for t in live if t.id == ask.ticket), None)
        others = [t for t in live if me is None or t.id != me.id]
        ahead = self._ahead(now, ask, me, others) if others else 0
        # 3. Bookings.
        held: float | None = None
        if room and ahead == 0:
            held = self._held(now, rates, margin, ask.rank)
            room = held is None
        # 4. Admitted.
        if room and ahead == 0 and not ask.peek:
            return self._admitted(now, ask, me)
        # 5. Refused, or a peek.
        wake = now
        if not (room and ahead == 0):
            wake = self._turn(now, rates, margin, ahead)
            if self.blocked_until is not None:
                wake = max(wake, self.blocked_until)
            if held is not None:
                wake = max(wake, held)
        ticket = me.id if me is not None else None
        if ask.queue and math.isfinite(wake):
            lease = now + ask.hold + ask.grace  # a heartbeat lease (0012_tickets)
            if me is None:
                ticket = self._next_id()
                self.tickets.append(
                    Ticket(ticket, ask.priority, ask.rank, now, now, wake, lease)
                )
            else:
                back = me.waiting_since is None  # back from its linger: re-arrives now
                renewed = replace(
                    me,
                    arrived_at=now if back else me.arrived_at,
                    waiting_since=now if back else me.waiting_since,
                    turn_at=wake,
                    lease_until=lease,
                )
                self.tickets = [renewed if t.id == me.id else t for t in self.tickets]
            self.tickets = [t for t in self.tickets if t.lease_until > now]
            self.bookings = [b for b in self.bookings if b.lease_until > now and b.need > 0]
        return Decision(False, wake, ahead, ticket)

    def _ahead(self, now: float, ask: Ask, me: Ticket | None, others: list[Ticket]) -> int:
        hungry = self._hungry(ask)

        def effective(priority: str, rank: int) -> int:
            return rank + (HUNGRY_BOOST if priority in hungry else 0)

        mine = effective(ask.priority, ask.rank)
        waiting = me if me is not None and me.waiting_since is not None else None
        count = 0
        for other in others:
            theirs = effective(other.priority, other.rank)
            if theirs > mine:
                count += 1
            elif theirs == mine:
                if other.turn_at is not None and other.turn_at <= now - LATE:
                    continue
                if waiting is None:
                    count += other.arrived_at <= now
                else:
                    count += (other.arrived_at, other.id) < (waiting.arrived_at, waiting.id)
        return count

    def _hungry(self, ask: Ask) -> frozenset[str]:
        total = self.calls()
        span = min(ask.share_span, total)
        if not ask.shares or span <= 0:
            return frozenset()
        weights: dict[str, int] = {}
        last = total  # the running count of calls up to and including each row
        for row in reversed(self.rows):
            if last <= total - span:
                break
            name = row.priority or UNCLASSED
            weights[name] = weights.get(name, 0) + row.weight
            last -= row.weight
        return frozenset(c for c, s in ask.shares if weights.get(c, 0) < s * span)

    def _held(self, now: float, rates: Sequence[Rate], margin: float, rank: int) -> float | None:
        until: float | None = None
        limits = [r.limit for r in rates if r.limit > 0]
        smallest = min(limits, default=0)
        for b in self.bookings:
            if b.rank <= rank or b.need <= 0 or b.lease_until <= now:
                continue
            ref = max(b.due_at, now)
            for rate in rates:
                window = rate.period + margin
                if rate.limit <= 0 or now + window <= b.due_at:
                    continue
                keep = rate.limit - min(b.need, smallest) - 1
                if keep < 0:
                    hold = min(b.lease_until, ref + window)
                else:
                    blocker = self._nth_newest(keep + 1, margin)
                    if blocker is None or blocker + window <= ref:
                        continue
                    hold = blocker + window
                until = hold if until is None else max(until, hold)
        return until

    def _admitted(self, now: float, ask: Ask, me: Ticket | None) -> Decision:
        stamp = max(now, self.rows[-1].at) if self.rows else now
        call = self._next_id()
        self.rows.append(Row(call, stamp, 1, ask.priority))
        due = [
            b
            for b in self.bookings
            if b.priority == ask.priority and b.need > 0 and b.lease_until > now
            and b.due_at <= now + EARLY
        ]  # fmt: skip
        if due:
            first = min(due, key=lambda b: (b.due_at, b.id))
            self.bookings = [
                replace(b, need=b.need - 1) if b.id == first.id else b for b in self.bookings
            ]
        kept: int | None = None
        if ask.queue and ask.linger > 0:
            until = now + ask.linger
            lingering = Ticket(
                me.id if me is not None else self._next_id(),
                me.priority if me is not None else ask.priority,
                me.rank if me is not None else ask.rank,
                until, None, None, until,
            )  # fmt: skip
            self.tickets = [t for t in self.tickets if me is None or t.id != me.id]
            self.tickets.append(lingering)
            kept = lingering.id
        elif me is not None:
            self.tickets = [t for t in self.tickets if t.id != me.id]
        return Decision(True, now, 0, kept, call)

    def _turn(self, now: float, rates: Sequence[Rate], margin: float, ahead: int) -> float:
        """When the ``ahead + 1``-th slot to free up frees (step 5)."""
        wake = now
        for rate in rates:
            if rate.limit <= 0:
                return math.inf
            window = rate.period + margin
            slot = self._nth_newest(rate.limit - ahead % rate.limit, margin)
            frees = now if slot is None else max(now, slot + window)
            wake = max(wake, frees + window * (ahead // rate.limit))
        return wake

    # -- outside attempts --------------------------------------------------------------
    def report(self, call: int, at: float) -> None:
        """The call of row ``call`` was answered at ``at``."""
        self.rows = [replace(r, reported_at=at) if r.id == call else r for r in self.rows]

    def release(self, ticket: int) -> None:
        """The holder of ``ticket`` gives its place up."""
        self.tickets = [t for t in self.tickets if t.id != ticket]

    def book(
        self, priority: str, rank: int, due_at: float, need: int, hold: float
    ) -> int:
        """Keep ``need`` calls of ``priority`` at ``due_at``, lapsing ``hold`` after it."""
        booking = Booking(self._next_id(), priority, rank, due_at, need, due_at + hold)
        self.bookings.append(booking)
        return booking.id

    def cancel(self, booking: int) -> None:
        self.bookings = [b for b in self.bookings if b.id != booking]

    def elsewhere(self, at: float, calls: int) -> None:
        """``calls`` calls made elsewhere with the same token at ``at``: one row."""
        if calls <= 0:
            return
        row = Row(self._next_id(), at, calls, None)
        place = sum(1 for r in self.rows if r.at <= at)  # the log is in time order
        self.rows.insert(place, row)

    def block(self, until: float) -> None:
        """A 429: hold every caller until ``until`` (never shortens a block)."""
        if self.blocked_until is None or self.blocked_until < until:
            self.blocked_until = until
