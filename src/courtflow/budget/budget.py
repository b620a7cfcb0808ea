"""The call budget every HTTP attempt passes through: a :class:`CallGate` on the ledger.

Every worker, process, host and DAG that uses the same token (the same budget key)
reserves each attempt from one ledger in the target database before sending it.

>>> budget = Budget.from_settings(settings, make_engine(settings.database_url), run_id=rid)
>>> with CourtListenerClient(settings, budget) as client:
...     budget.reconcile(client.api_usage())     # learn the real rates and usage
...     page = client.get_page(...)              # each attempt: reserve -> send -> report
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from courtflow.budget import bookings, external, ledger, margin, retention, seqlog
from courtflow.budget.admission import DEFAULT_GRACE, Queueing
from courtflow.budget.pool import dispose_reserving_engine, reserving_engine
from courtflow.budget.priorities import (
    BACKFILL,
    DEFAULT_SHARE_SPAN,
    parse_min_shares,
    parse_priority,
)
from courtflow.budget.rates import Rate, format_rates, tighter, with_headroom
from courtflow.budget.usage_sync import sync_usage
from courtflow.budget.waits import room_at
from courtflow.client.gate import CallGate, CallReport, Ticket
from courtflow.client.usage import ApiUsage
from courtflow.config import Settings
from courtflow.errors import BlockedError, BudgetExhaustedError, ConfigError, CourtflowError
from courtflow.store.retry import DbRetryPolicy, run_with_db_retry

__all__ = [
    "Budget", "WindowUsage", "behind_backoff", "dispose_reserving_engine", "reserving_engine",
]  # fmt: skip

log = logging.getLogger("courtflow.budget")

_T = TypeVar("_T")

DEFAULT_RETENTION = 7 * 86_400.0  # ledger rows kept after their windows, for audits
# A learned margin is re-read from the ledger at most this often (seconds).
MARGIN_REFRESH = 2.0
# How long a ticket is kept for a caller that gave up waiting in-process (Airflow defers
# to the trigger, which then renews it), beyond its expected turn.
DEFER_HOLD = 120.0
# A waiter whose turn has come but who still has others before it (they are about to
# take their slots) re-asks after this, doubling (at most BEHIND_STEPS times: the
# exponent stays bounded however long the wait), up to BEHIND_MAX.
BEHIND_FIRST, BEHIND_MAX, BEHIND_STEPS = 0.005, 0.25, 6
# A queued waiter asks again at least this often, which renews its ticket's lease
# (HEARTBEAT + grace, 0012_tickets): a waiter that died stops holding others back
# within seconds rather than until its expected turn.
HEARTBEAT = 2.0
# A wait is announced to the listeners once, and again only when it grows by more than
# this (the heartbeats in between are not news).
ANNOUNCE_SLACK = 1.0
# After an admission a caller keeps its class's claim this long (a page to store before
# its next call), so a lower class cannot take the rest of a burst meanwhile.
DEFAULT_LINGER = 1.0
# A full ledger holding usage made elsewhere asks api-usage/ again at most this often
# (per process; the answer is shared for usage_sync.FRESH_SECONDS), for waits this long.
RESYNC_SECONDS = 30.0
RESYNC_MIN_WAIT = 1.0


def behind_backoff(behind: int) -> float:
    """The re-ask delay of a waiter whose turn has come with others still before it, on
    its ``behind``-th try in a row: doubling from BEHIND_FIRST, never above BEHIND_MAX,
    and the exponent is capped so no count of tries can overflow a float."""
    return min(BEHIND_FIRST * 2.0 ** min(max(behind, 0), BEHIND_STEPS), BEHIND_MAX)


@dataclass(frozen=True)
class WindowUsage:
    """One window of the budget as the ledger sees it (``courtflow budget``)."""

    rate: str
    used: int
    limit: int
    remaining: int
    available_at: float  # epoch seconds, database clock: now when there is room
    room_now: bool = False  # judged on the database's clock, not the caller's


class Budget:
    """A distributed sliding-window call budget shared through the target database.

    ``rates`` are the configured limits; ``headroom`` (0..1) of each is left to other
    users of the token; ``safety_margin`` seconds widen every window for the way from a
    reservation to the server (with ``learn_margin``: the ceiling of a margin learned
    from the ledger, :mod:`courtflow.budget.margin`). Waits up to ``max_sleep`` seconds
    are slept here; longer ones raise :class:`BudgetExhaustedError` so an Airflow task
    can defer (``hold_on_defer``: the ticket is kept for the trigger; otherwise it is
    given up). Times come from the database's clock, so workers on skewed hosts agree.

    ``priority`` is this caller's class (:mod:`courtflow.budget.classes`): a refused
    caller waits in the key's queue, behind higher classes and earlier arrivals of its
    own; ``min_shares`` keeps a share of admissions for lower classes.
    """

    def __init__(
        self,
        engine: Engine,
        key: str,
        rates: Sequence[Rate],
        *,
        headroom: float = 0.0,
        safety_margin: float = 1.0,
        max_sleep: float = 60.0,
        run_id: str | None = None,
        task_id: str | None = None,
        dag_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        synchronous: bool = False,
        priority: str | None = None,
        min_shares: str | dict[str, float] | tuple[tuple[str, float], ...] | None = None,
        learn_margin: bool = False,
        margin_floor: float = margin.DEFAULT_FLOOR,
        grace: float = DEFAULT_GRACE,
        share_span: int = DEFAULT_SHARE_SPAN,
        linger: float = DEFAULT_LINGER,
        db_retry: DbRetryPolicy | None = None,
        hold_on_defer: bool = True,
    ) -> None:
        if not rates:
            raise ConfigError("the call budget needs at least one rate such as '5000/hour'")
        if safety_margin < 0 or max_sleep < 0:
            raise ConfigError("safety_margin and max_sleep must not be negative")
        self._configured = with_headroom(rates, headroom)
        starved = [r.text for r in self._configured if r.limit <= 0]
        if starved:
            raise ConfigError(f"rate(s) {starved} leave no call after headroom {headroom}")
        self.engine = engine
        self.key = key
        self.headroom = headroom
        self.margin = safety_margin
        self.margin_policy = (
            margin.MarginPolicy(True, min(margin_floor, safety_margin), safety_margin)
            if learn_margin
            else margin.MarginPolicy.fixed(safety_margin)
        )
        self._margin_read_at: float | None = None
        self._margin_cold = learn_margin  # learning, but too few calls seen yet
        self.priority = parse_priority(priority)
        shares = min_shares if isinstance(min_shares, tuple) else parse_min_shares(min_shares)
        self.min_shares: tuple[tuple[str, float], ...] = shares
        self.grace = grace
        self.share_span = share_span
        self.linger = linger
        # Thread id -> the ticket its next reserve() starts from: kept after an admission
        # (linger), or handed over by a deferral (adopt_ticket).
        self._held: dict[int, int] = {}
        self.max_sleep = max_sleep
        # Airflow defers a wait longer than max_sleep and comes back for its ticket; a
        # CLI that gives up exits, so its place must go with it (hold_on_defer=False).
        self.hold_on_defer = hold_on_defer
        self.run_id, self.task_id, self.dag_id = run_id, task_id, dag_id
        self._sleep = sleep
        self._synchronous = synchronous
        # Every ledger transaction rides out a database restart (courtflow.store.retry).
        self._db_retry = db_retry or DbRetryPolicy()
        self._server_rates: str | None = None  # last seen in the ledger; a hint only
        # Where to learn the server's own view (the client's api-usage/), when there is one.
        self.usage_source: Callable[[], ApiUsage] | None = None
        self._last_resync = time.monotonic()  # the source is asked at start anyway
        # Told (seconds, reason) before each in-process wait: progress displays listen.
        self.wait_listeners: list[Callable[[float, str], None]] = []
        # PostgreSQL: one autocommit statement per reservation, so the server releases
        # the key's lock as soon as the row is written.
        self._reserving = reserving_engine(engine) if engine.dialect.name == "postgresql" else None

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, **ids: Any) -> Budget:
        """The budget of ``settings``' token (``budget_key``), rates and limits."""
        ids.setdefault("priority", settings.priority)
        return cls(
            engine,
            settings.budget_key,
            settings.rates,
            headroom=settings.headroom,
            safety_margin=settings.safety_margin,
            max_sleep=settings.max_sleep,
            learn_margin=settings.learn_margin,
            min_shares=settings.min_shares,
            db_retry=DbRetryPolicy(seconds=settings.db_retry_seconds),
            **ids,
        )

    def __repr__(self) -> str:
        return f"Budget(key={self.key!r}, rates={format_rates(self.rates)!r})"

    @property
    def db_retry(self) -> DbRetryPolicy:
        return self._db_retry

    def _db(self, work: Callable[[], _T], what: str) -> _T:
        """Run one ledger transaction, retrying transient database errors."""
        return run_with_db_retry(self.engine, work, self._db_retry, what=what, sleep=self._sleep)

    # -- rates -----------------------------------------------------------------------
    @property
    def configured_rates(self) -> tuple[Rate, ...]:
        """The configured rates, headroom applied."""
        return self._configured

    @property
    def rates(self) -> tuple[Rate, ...]:
        """The rates enforced: configured, and the server-reported ones where tighter."""
        return tighter(ledger.effective_rates(self._configured, self._server_rates, self.headroom))

    def adopt_rates(self, rates: Sequence[Rate]) -> tuple[Rate, ...]:
        """Enforce the server's rates too (for every worker of this key); returns the result."""
        with self.engine.begin() as conn:
            ledger.lock_key(conn, self.key)
            ledger.set_server_rates(conn, self.key, rates)
        self._server_rates = format_rates(rates) if rates else None
        return self.rates

    # -- CallGate --------------------------------------------------------------------
    def reserve(self, endpoint: str) -> Ticket:
        """Wait for room and this caller's turn (up to ``max_sleep`` in all); reserve.

        A refused caller holds a ticket in the key's queue and sleeps until its expected
        turn, asking again every ``HEARTBEAT`` seconds to keep the ticket alive, so
        waiters wake one by one in order and a dead one soon stops counting. A wait that
        would take longer than ``max_sleep`` in all raises :class:`BudgetExhaustedError`
        carrying the ticket, held for the caller's return (:meth:`adopt_ticket`) when
        ``hold_on_defer``; any other exit (error, signal) gives the place up.
        """
        thread = threading.get_ident()
        ticket = self._held.pop(thread, None)
        behind = 0
        keep = False
        started = time.monotonic()
        announced = -math.inf  # when the wait last told to the listeners ends (monotonic)
        try:
            while True:
                r = self._attempt(endpoint, self.queueing(ticket, queue=True, hold=HEARTBEAT))
                ticket = r.ticket
                if r.granted:
                    if ticket is not None:
                        self._held[thread] = ticket
                    return Ticket(endpoint=endpoint, reserved_at=r.now, call_id=r.call_id)
                if not math.isfinite(r.available_at):
                    raise BlockedError(
                        f"call budget {self.key}: a rate of 0 calls ({format_rates(r.rates)}) "
                        "admits nothing; waiting cannot help"
                    )
                wait = r.wait
                if r.ahead > 0 and wait < BEHIND_MAX:
                    wait = max(wait, behind_backoff(behind))
                    behind += 1
                else:
                    behind = 0
                full_wait = wait  # until the expected turn; the re-asks below come sooner
                if self._margin_cold:
                    # The wait was planned with the ceiling: re-plan once the first
                    # calls have taught the margin, rather than sleep the ceiling out.
                    wait = min(wait, MARGIN_REFRESH)
                if self._resync(r):
                    continue
                waited = time.monotonic() - started
                # The whole wait counts, not the first re-ask's share of it: a caller
                # that will not wait that long leaves now, not after max_sleep.
                if waited + full_wait > self.max_sleep:
                    if ticket is not None and self.hold_on_defer:
                        self.hold(ticket, wait + DEFER_HOLD)
                        keep = True
                    raise BudgetExhaustedError(
                        f"call budget {self.key} has no room for {r.wait:.1f}s "
                        f"(until {ledger.at(r.available_at).isoformat()}; rates "
                        f"{format_rates(r.rates)}; {r.ahead} waiting before this "
                        f"{self.priority} call); with the {waited:.0f}s waited so far, "
                        f"longer than max_sleep={self.max_sleep:g}s (COURTFLOW_MAX_SLEEP, "
                        "or the connection's max_sleep)",
                        available_at=r.available_at,
                        wait_seconds=r.wait,
                        ticket=ticket,
                    )
                if self.usage_source is not None:
                    wait = min(wait, RESYNC_SECONDS)  # then look at api-usage/ again
                reason = f"call budget full ({format_rates(r.rates)})"
                if r.ahead > 0:
                    reason += f", {r.ahead} caller(s) ahead in the queue"
                moment = time.monotonic()
                if moment + full_wait > announced + ANNOUNCE_SLACK:
                    announced = moment + full_wait
                    for listener in self.wait_listeners:
                        listener(full_wait, reason)
                # Queued: wake within the heartbeat to renew the ticket (and re-plan).
                self._sleep(min(wait, HEARTBEAT) if ticket is not None else wait)
        except BaseException:
            if ticket is not None and not keep:
                self.release(ticket)
            raise

    def _resync(self, r: ledger.Reservation) -> bool:
        """Reconcile again when the ledger is full while it holds usage made elsewhere;
        True when that changed the ledger.

        External calls are placed as late as the server allows, so they may hold room
        the server has already given back; a fresh ``api-usage/`` view releases it (paced
        by that endpoint's own budget: :mod:`courtflow.budget.usage_sync`).
        """
        if self.usage_source is None or r.wait < RESYNC_MIN_WAIT:
            return False
        moment = time.monotonic()
        if moment - self._last_resync < RESYNC_SECONDS:
            return False
        self._last_resync = moment
        longest = max(rate.period for rate in r.rates) + self.margin
        with self.engine.begin() as conn:
            since = ledger.db_now(conn) - timedelta(seconds=longest)
            if not ledger.has_external(conn, self.key, since):
                return False
        return self.sync_with_server() != 0  # room may be back: look again at once

    def queueing(
        self, ticket: int | None = None, *, queue: bool = False, peek: bool = False,
        hold: float = 0.0,
    ) -> Queueing:  # fmt: skip
        """This budget's class and shares, for one attempt with ``ticket``."""
        return Queueing(
            priority=self.priority,
            ticket=ticket,
            peek=peek,
            queue=queue,
            hold=hold,
            grace=self.grace,
            linger=self.linger if queue and not peek else 0.0,
            shares=self.min_shares,
            share_span=self.share_span,
        )

    def try_reserve(
        self, endpoint: str | None = None, *, queueing: Queueing | None = None
    ) -> ledger.Reservation:
        """One reservation attempt, no waiting (by default taking no place in the queue)."""
        return self._attempt(endpoint, queueing or self.queueing())

    def peek(
        self, ticket: int | None, *, hold: float = 0.0, queue: bool = True
    ) -> ledger.Reservation:
        """Would this caller (holding ``ticket``) be admitted now? Reserves nothing.

        With ``queue`` the ticket is taken or renewed for at least ``hold`` seconds
        (``Reservation.ticket``): the trigger keeps a deferred task's place this way.
        ``Reservation.ready`` says whether it is the caller's turn, with room.
        """
        return self._attempt(None, self.queueing(ticket, queue=queue, peek=True, hold=hold))

    def adopt_ticket(self, ticket: int | None) -> None:
        """Give this thread's next :meth:`reserve` the place ``ticket`` holds (after a deferral)."""
        if ticket is not None:
            self._held[threading.get_ident()] = int(ticket)

    def close(self) -> None:
        """Give up the places this budget's callers still hold (their work is done)."""
        while self._held:
            _, ticket = self._held.popitem()
            self.release(ticket)

    def hold(self, ticket: int, seconds: float) -> None:
        """Keep ``ticket``'s place for at least ``seconds`` more."""
        def hold() -> None:
            with self.engine.begin() as conn:
                ledger.hold_ticket(conn, self.key, ticket, seconds)

        self._db(hold, "queue hold")

    def release(self, ticket: int) -> None:
        """Give ``ticket``'s place up (best effort: its lease would expire anyway)."""
        try:
            with self.engine.begin() as conn:
                ledger.release_ticket(conn, self.key, ticket)
        except Exception as exc:  # never mask the error that made the caller give up
            log.warning("could not release budget ticket %s: %s", ticket, type(exc).__name__)

    def book(
        self, calls: int, due: datetime, *, hold: float = bookings.DEFAULT_HOLD,
        priority: str | None = None,
    ) -> int:  # fmt: skip
        """Keep room for ``calls`` calls of this budget's class (or ``priority``) at ``due``.

        Lower classes leave that room free in every window that reaches ``due``; the
        class's own admissions from a minute before ``due`` use it up, and ``hold``
        seconds after ``due`` it lapses (:mod:`courtflow.budget.bookings`). Returns the
        booking's id, for :meth:`cancel_booking`.
        """
        ids = {"run_id": self.run_id, "task_id": self.task_id, "dag_id": self.dag_id}

        def add() -> int:
            with self.engine.begin() as conn:
                return bookings.book(
                    conn, self.key, priority or self.priority, due, calls, hold=hold, ids=ids
                )

        return self._db(add, "booking")

    def cancel_booking(self, booking: int) -> None:
        """Give a booking up: its run is done or will not come."""

        def cancel() -> None:
            with self.engine.begin() as conn:
                bookings.cancel(conn, self.key, booking)

        self._db(cancel, "booking")

    def cancel_due_bookings(self) -> int:
        """Give up this task's bookings that are due (made for this run by the last one)."""

        def cancel() -> int:
            with self.engine.begin() as conn:
                now = ledger.db_now(conn)
                return bookings.cancel_due(conn, self.key, self.dag_id, self.task_id, now)

        return self._db(cancel, "booking")

    def book_next(self, calls: int, due: datetime | None) -> int | None:
        """What a scheduled run does as it ends: give up what was booked for it, then book
        its ``calls`` for the next run at ``due`` (None: no next run). A backfill books
        nothing: no class ranks below it. Returns the new booking's id, if any."""
        self.cancel_due_bookings()
        if due is None or calls <= 0 or self.priority == BACKFILL:
            return None
        return self.book(calls, due)

    def current_margin(self) -> float:
        """The margin in force: fixed, or learned from the ledger (re-read every 2 s)."""
        if not self.margin_policy.learn:
            return self.margin
        clock = time.monotonic()
        if self._margin_read_at is None or clock - self._margin_read_at >= MARGIN_REFRESH:
            self._margin_read_at = clock
            with self.engine.connect() as conn:
                samples = margin.recent_samples(conn, self.key)
            self.margin = margin.margin_from(samples, self.margin_policy)
            self._margin_cold = len(samples) < margin.MIN_SAMPLES
        return self.margin

    def _attempt(self, endpoint: str | None, q: Queueing) -> ledger.Reservation:
        return self._db(lambda: self._attempt_once(endpoint, q), "reservation")

    def _attempt_once(self, endpoint: str | None, q: Queueing) -> ledger.Reservation:
        m = self.current_margin()
        if self._reserving is None:
            with self.engine.begin() as conn:
                r = self._try_reserve(conn, endpoint, q, m)
        else:
            try:
                with self._reserving.connect() as conn:
                    r = self._try_reserve(conn, endpoint, q, m)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The server dropped its connections (restart, failover): the others in
                # the pool are dead too. Start a fresh pool and try once more.
                self._reserving.dispose()
                with self._reserving.connect() as conn:
                    r = self._try_reserve(conn, endpoint, q, m)
        self._server_rates = r.server_rates
        return r

    def _try_reserve(
        self, conn: Connection, endpoint: str | None, q: Queueing, m: float
    ) -> ledger.Reservation:
        return ledger.try_reserve(
            conn,
            self.key,
            self._configured,
            m,
            endpoint,
            self.run_id,
            self.task_id,
            self.dag_id,
            server_headroom=self.headroom,
            server_rates=self._server_rates,
            synchronous=self._synchronous,
            queueing=q,
        )

    def report(self, ticket: Ticket, report: CallReport) -> None:
        call_id = ticket.call_id
        if call_id is None:
            return

        def record() -> None:
            with self.engine.begin() as conn:
                ledger.record(conn, call_id, report)

        self._db(record, "call report")

    def throttled(self, retry_after: float) -> None:
        """A 429 with Retry-After: block every worker of this key until it has passed."""
        def block() -> None:
            with self.engine.begin() as conn:
                until = ledger.db_now(conn) + timedelta(seconds=max(0.0, retry_after))
                ledger.block(conn, self.key, until, f"429 Retry-After: {retry_after:g}s")

        self._db(block, "server block")
        # A 429 means the ledger and the server disagree (someone else uses the token,
        # or the rates changed): learn the server's usage and rates.
        self.sync_with_server()

    def sync_with_server(self) -> int:
        """Reconcile with ``api-usage/`` if a source is set; paced by that endpoint's own
        budget and a shared recent answer (:mod:`courtflow.budget.usage_sync`); best
        effort, never raises a CourtflowError and never waits."""
        if self.usage_source is None:
            return 0
        try:
            return sync_usage(self, self.usage_source)
        except CourtflowError as exc:
            log.warning("api-usage/ reconciliation skipped: %s", type(exc).__name__)
            return 0

    # -- inspection ------------------------------------------------------------------
    def next_available(self) -> float:
        """When a call could be reserved (epoch seconds, database clock; now if now)."""
        def read() -> tuple[datetime, datetime | None, str | None, Any, Any]:
            with self.engine.begin() as conn:
                now_dt, blocked, server = ledger.read_state(conn, self.key)
                rates = ledger.effective_rates(self._configured, server, self.headroom)
                return now_dt, blocked, server, rates, seqlog.nth_newest(
                    conn, self.key, rates, self.margin
                )

        now_dt, blocked, server, rates, blockers = self._db(read, "budget check")
        self._server_rates = server
        now = ledger.epoch(now_dt)
        ready = room_at(blockers, rates, now, self.margin)
        if blocked is not None:
            ready = max(ready, ledger.epoch(blocked))
        return max(ready, now)

    def usage(self) -> tuple[WindowUsage, ...]:
        """Per enforced window: used, limit, remaining and when the next slot frees up."""
        with self.engine.begin() as conn:
            now_dt, _, server = ledger.read_state(conn, self.key)
            rates = tighter(ledger.effective_rates(self._configured, server, self.headroom))
            blockers = seqlog.nth_newest(conn, self.key, rates, self.margin)
            used = [
                seqlog.count_since(
                    conn, self.key, now_dt - timedelta(seconds=r.period + self.margin)
                )
                for r in rates
            ]
        now = ledger.epoch(now_dt)
        return tuple(
            WindowUsage(
                rate=r.text,
                used=u,
                limit=r.limit,
                remaining=max(0, r.limit - u),
                available_at=max(now, room_at([b], [r], now, self.margin)),
                room_now=room_at([b], [r], now, self.margin) <= now,
            )
            for r, u, b in zip(rates, used, blockers, strict=True)
        )

    # -- reconciliation with the server ----------------------------------------------
    def reconcile(self, api_usage: ApiUsage, asked_at: datetime | None = None) -> int:
        """Align the ledger with the server's ``api-usage/``; returns the external calls
        added (net of those the previous snapshot had placed).

        Adopts the server's user rates (the tighter of both lists is enforced). The calls
        the server counts and the ledger does not (the same token used elsewhere) are
        placed so that none leaves the ledger before it leaves the server
        (:mod:`courtflow.budget.external`), replacing the previous snapshot's placement:
        under the key's lock, so concurrent reconciliations never add up, and a snapshot
        older than the one applied is ignored. ``asked_at`` (database clock) is when the
        answer was asked for; calls answered later may be missing from it. Bounded work
        whatever the counts: at most two rows per window.
        """
        windows = api_usage.user_windows
        server_rates = api_usage.user_rates()
        if server_rates:
            self.adopt_rates(server_rates)
        if not windows:
            return 0
        with self.engine.begin() as conn:
            ledger.lock_key(conn, self.key)
            now = ledger.db_now(conn)
            asked = asked_at if asked_at is not None else now
            applied = ledger.read_usage(conn, self.key).applied_at
            if applied is not None and applied >= asked:
                return 0  # this snapshot, or a newer one, is already in the ledger
            seen = [
                external.ServerWindow(
                    period=float(w.window_seconds),
                    used=w.used,
                    limit=w.limit,
                    reset_at=w.reset_at,
                    ours=ledger.ours_counted(
                        conn, self.key, now - timedelta(seconds=w.window_seconds), asked
                    ),
                    our_oldest=ledger.our_oldest(
                        conn,
                        self.key,
                        now - timedelta(seconds=w.window_seconds + self.margin),
                        lookback=w.window_seconds,
                    ),
                )
                for w in windows
            ]
            placed = external.place(now, seen, self.margin)
            longest = max(w.window_seconds for w in windows) + self.margin
            removed = seqlog.rewrite_external(
                conn,
                self.key,
                [(p.at, p.calls) for p in placed],
                drop_after=now - timedelta(seconds=longest),
            )
            ledger.mark_usage_applied(conn, self.key, asked)
        added = sum(p.calls for p in placed)
        if added or removed:
            log.info(
                "reconciled with api-usage/: %d external call(s) in the ledger (was %d)",
                added,
                removed,
                extra={"event": "reconciled", "external": added, "replaced": removed},
            )
        return added - removed

    # -- housekeeping ----------------------------------------------------------------
    def rollup(self, since: datetime | None = None) -> int:
        """Recompute the hourly ``api_call_metrics`` of this key from the ledger."""
        with self.engine.begin() as conn:
            return retention.rollup(conn, since, key=self.key)

    def purge(self, retention_seconds: float = DEFAULT_RETENTION) -> int:
        """Roll up and delete this key's rows older than every window and the retention."""
        longest = max(r.period for r in self.rates) + self.margin
        with self.engine.begin() as conn:
            ledger.drop_expired_tickets(conn, self.key)  # of callers that never came back
            return retention.purge(conn, max(retention_seconds, longest), key=self.key)


if TYPE_CHECKING:

    def _is_a_call_gate(budget: Budget) -> CallGate:  # checked by mypy, never run
        return budget
