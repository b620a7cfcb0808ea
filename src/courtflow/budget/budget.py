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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from courtflow.budget import external, ledger, retention, seqlog
from courtflow.budget.rates import Rate, format_rates, tighter, with_headroom
from courtflow.budget.usage_sync import sync_usage
from courtflow.budget.waits import room_at
from courtflow.client.gate import CallGate, CallReport, Ticket
from courtflow.client.usage import ApiUsage
from courtflow.config import Settings
from courtflow.errors import BlockedError, BudgetExhaustedError, ConfigError, CourtflowError

log = logging.getLogger("courtflow.budget")

DEFAULT_RETENTION = 7 * 86_400.0  # ledger rows kept after their windows, for audits
# A full ledger holding usage made elsewhere asks api-usage/ again at most this often
# (per process; the answer is shared for usage_sync.FRESH_SECONDS), for waits this long.
RESYNC_SECONDS = 30.0
RESYNC_MIN_WAIT = 1.0


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
    reservation to the server. Waits up to ``max_sleep`` seconds are slept here; longer
    ones raise :class:`BudgetExhaustedError` so an Airflow task can defer. Times come
    from the database's clock, so workers on skewed hosts agree.
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
        self.max_sleep = max_sleep
        self.run_id, self.task_id, self.dag_id = run_id, task_id, dag_id
        self._sleep = sleep
        self._synchronous = synchronous
        self._server_rates: str | None = None  # last seen in the ledger; a hint only
        # Where to learn the server's own view (the client's api-usage/), when there is one.
        self.usage_source: Callable[[], ApiUsage] | None = None
        self._last_resync = time.monotonic()  # the source is asked at start anyway
        # PostgreSQL: one autocommit statement per reservation, so the server releases
        # the key's lock as soon as the row is written.
        self._reserving = reserving_engine(engine) if engine.dialect.name == "postgresql" else None

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, **ids: Any) -> Budget:
        """The budget of ``settings``' token (``budget_key``), rates and limits."""
        return cls(
            engine,
            settings.budget_key,
            settings.rates,
            headroom=settings.headroom,
            safety_margin=settings.safety_margin,
            max_sleep=settings.max_sleep,
            **ids,
        )

    def __repr__(self) -> str:
        return f"Budget(key={self.key!r}, rates={format_rates(self.rates)!r})"

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
        """Wait for room (up to ``max_sleep`` at a time) and reserve one attempt."""
        while True:
            r = self.try_reserve(endpoint)
            if r.granted:
                return Ticket(endpoint=endpoint, reserved_at=r.now, call_id=r.call_id)
            if not math.isfinite(r.available_at):
                raise BlockedError(
                    f"call budget {self.key}: a rate of 0 calls ({format_rates(r.rates)}) "
                    "admits nothing; waiting cannot help"
                )
            if self._resync(r):
                continue
            if r.wait > self.max_sleep:
                raise BudgetExhaustedError(
                    f"call budget {self.key} has no room for {r.wait:.1f}s "
                    f"(until {ledger.at(r.available_at).isoformat()}; rates "
                    f"{format_rates(r.rates)}); longer than max_sleep={self.max_sleep:g}s",
                    available_at=r.available_at,
                    wait_seconds=r.wait,
                )
            self._sleep(r.wait if self.usage_source is None else min(r.wait, RESYNC_SECONDS))

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

    def try_reserve(self, endpoint: str | None = None) -> ledger.Reservation:
        """One reservation attempt, no waiting."""
        if self._reserving is None:
            with self.engine.begin() as conn:
                r = self._try_reserve(conn, endpoint)
        else:
            try:
                with self._reserving.connect() as conn:
                    r = self._try_reserve(conn, endpoint)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The server dropped its connections (restart, failover): the others in
                # the pool are dead too. Start a fresh pool and try once more.
                self._reserving.dispose()
                with self._reserving.connect() as conn:
                    r = self._try_reserve(conn, endpoint)
        self._server_rates = r.server_rates
        return r

    def _try_reserve(self, conn: Connection, endpoint: str | None) -> ledger.Reservation:
        return ledger.try_reserve(
            conn,
            self.key,
            self._configured,
            self.margin,
            endpoint,
            self.run_id,
            self.task_id,
            self.dag_id,
            server_headroom=self.headroom,
            server_rates=self._server_rates,
            synchronous=self._synchronous,
        )

    def report(self, ticket: Ticket, report: CallReport) -> None:
        if ticket.call_id is None:
            return
        with self.engine.begin() as conn:
            ledger.record(conn, ticket.call_id, report)

    def throttled(self, retry_after: float) -> None:
        """A 429 with Retry-After: block every worker of this key until it has passed."""
        with self.engine.begin() as conn:
            until = ledger.db_now(conn) + timedelta(seconds=max(0.0, retry_after))
            ledger.block(conn, self.key, until, f"429 Retry-After: {retry_after:g}s")
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
        with self.engine.begin() as conn:
            now_dt, blocked, server = ledger.read_state(conn, self.key)
            rates = ledger.effective_rates(self._configured, server, self.headroom)
            blockers = seqlog.nth_newest(conn, self.key, rates, self.margin)
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
            return retention.purge(conn, max(retention_seconds, longest), key=self.key)


_RESERVING: dict[str, Engine] = {}
_RESERVING_LOCK = threading.Lock()


def reserving_engine(engine: Engine) -> Engine:
    """A small AUTOCOMMIT pool on ``engine``'s PostgreSQL database, for reservations only.

    No pre-ping and no reset on return: a reservation is one statement, and a dropped
    connection is retried once by :meth:`Budget.try_reserve`. That saves two round
    trips of the shared pool per reservation, a third of its client CPU.
    """
    url = engine.url.render_as_string(hide_password=False)
    with _RESERVING_LOCK:
        found = _RESERVING.get(url)
        if found is None:
            found = create_engine(
                engine.url,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                pool_size=10,
                max_overflow=20,
                connect_args={"connect_timeout": 10},
            )
            _RESERVING[url] = found
        return found


def dispose_reserving_engine(url: str) -> None:
    """Close the reservation pool of ``url`` (tests and tools that drop databases)."""
    with _RESERVING_LOCK:
        found = _RESERVING.pop(url, None)
    if found is not None:
        found.dispose()


if TYPE_CHECKING:

    def _is_a_call_gate(budget: Budget) -> CallGate:  # checked by mypy, never run
        return budget
