"""``BudgetTrigger``: waits in the triggerer, not on a worker, until the call budget has room.

It asks the ledger when the next call could be reserved (the sliding windows of every
rate and any server block, by the database's clock), sleeps exactly that long, asks
again — another worker may have taken the room meanwhile — and fires one event when
there is room. Nothing is reserved here: the resumed task reserves its own calls.

With a ``ticket`` (the deferred task's place in the budget's waiters' queue) or a
``priority``, it asks as that class and renews the ticket's lease on every check, so
the task keeps its place while it waits; it fires when it is the ticket's turn and
there is room, holds the place for the task's resumption (``RESUME_HOLD``) and hands
the ticket back in the event. With ``queue=False`` (the sensor) it takes no ticket.

    self.defer(trigger=BudgetTrigger(exc.available_at, conn_id, payload={"window": w}),
               method_name="execute_complete")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook

if TYPE_CHECKING:
    from courtflow.budget.budget import Budget

# Re-check at least this often even when the ledger says "later": rates may be adopted
# from the server or a block lifted meanwhile.
DEFAULT_POLL_INTERVAL = 60.0
# Sleep a little past the computed instant so the re-check does not land just before it.
_EPSILON = 0.05
# Airflow <= 3.3.2 races a quickly resumed task against the executor's report of the
# worker's deferral exit: if the task is already queued or running again when that
# report is processed, the scheduler takes it for an external kill and fails the try
# (apache/airflow#67287, #71580, #72716). Resuming no sooner than this many seconds
# after deferring leaves the scheduler time to process the report first.
DEFAULT_MIN_DEFERRAL = 15.0
# How long the place is kept for the resumed task once the trigger fires: the time for
# the scheduler to queue it and a worker to start it. Lower classes wait meanwhile.
RESUME_HOLD = 120.0


def seconds_until_room(budget: Budget) -> float:
    """Seconds, by the database's clock, until a call could be reserved (<= 0: now).

    Both reads ride out a restart of the target database (courtflow.store.retry), so a
    trigger or sensor waiting through one does not fail its task.
    """
    from courtflow.budget import ledger
    from courtflow.store.retry import run_with_db_retry

    ready = budget.next_available()

    def now() -> float:
        with budget.engine.connect() as conn:
            return ledger.epoch(ledger.db_now(conn))

    return ready - run_with_db_retry(budget.engine, now, budget.db_retry, what="budget clock")


def seconds_until_turn(budget: Budget) -> float:
    """Seconds until a call of ``budget``'s class could go: room, and no one before it."""
    r = budget.peek(None, queue=False)
    return 0.0 if r.ready else r.wait


class BudgetTrigger(BaseTrigger):
    """Fires ``{"status": "ready", ...payload}`` once the connection's budget has room.

    ``available_at`` (epoch seconds, database clock) is the operator's estimate, kept
    for logs; the trigger always asks the ledger itself. ``payload`` is echoed in the
    event so the resumed task gets back what it needs (its window, counters). The event
    is not fired before ``deferred_at + min_deferral`` (see ``DEFAULT_MIN_DEFERRAL``).
    """

    def __init__(
        self,
        available_at: float,
        courtlistener_conn_id: str = DEFAULT_CONN_ID,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        payload: Mapping[str, Any] | None = None,
        deferred_at: float | None = None,
        min_deferral: float = 0.0,
        ticket: int | None = None,
        priority: str | None = None,
        queue: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.available_at = float(available_at)
        self.courtlistener_conn_id = courtlistener_conn_id
        self.poll_interval = float(poll_interval)
        self.payload = dict(payload or {})
        self.deferred_at = float(deferred_at) if deferred_at is not None else None
        self.min_deferral = float(min_deferral)
        self.ticket = int(ticket) if ticket is not None else None
        self.priority = priority
        self.queue = bool(queue)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "courtflow.airflow.triggers.BudgetTrigger",
            {
                "available_at": self.available_at,
                "courtlistener_conn_id": self.courtlistener_conn_id,
                "poll_interval": self.poll_interval,
                "payload": self.payload,
                "deferred_at": self.deferred_at,
                "min_deferral": self.min_deferral,
                "ticket": self.ticket,
                "priority": self.priority,
                "queue": self.queue,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        hook = CourtListenerHook(self.courtlistener_conn_id)
        settings = await hook.aget_settings()
        if self.priority is not None:
            settings = settings.with_overrides(priority=self.priority)
        # Database work is blocking: it runs in a thread, never on the triggerer's loop.
        budget = await asyncio.to_thread(hook.get_budget, settings)
        if self.ticket is not None or self.priority is not None:
            async for fired in self._run_in_queue(budget, started):
                yield fired
            return
        checks = 0
        while True:
            room_in = await asyncio.to_thread(seconds_until_room, budget)
            checks += 1
            hold = self._hold()
            if room_in <= 0 and hold <= 0:
                waited = time.monotonic() - started
                self.log.info(
                    "budget %s has room after %.1fs (%d checks)", budget.key, waited, checks
                )
                event = {"status": "ready", "checks": checks, "waited": round(waited, 3)}
                yield TriggerEvent({**event, **self.payload})  # type: ignore[no-untyped-call]
                return
            nap = min(max(room_in, hold) + _EPSILON, self.poll_interval)
            if room_in > 0:
                self.log.info("budget %s full for %.1fs more: sleeping %.1fs",
                              budget.key, room_in, nap)  # fmt: skip
            else:
                self.log.info("budget has room; resuming in %.1fs (min_deferral)", nap)
            await asyncio.sleep(nap)

    async def _run_in_queue(self, budget: Budget, started: float) -> AsyncIterator[TriggerEvent]:
        """Wait as the task's class, keeping (or, with ``queue``, taking) its place."""
        ticket, checks = self.ticket, 0
        while True:
            r = await asyncio.to_thread(
                budget.peek, ticket, hold=self.poll_interval + _EPSILON, queue=self.queue
            )
            ticket, checks = r.ticket, checks + 1
            hold = self._hold()
            if r.ready and hold <= 0:
                if ticket is not None:
                    await asyncio.to_thread(budget.hold, ticket, RESUME_HOLD)
                waited = time.monotonic() - started
                self.log.info("budget %s has room after %.1fs (%d checks), and it is this "
                              "%s call's turn", budget.key, waited, checks,
                              budget.priority)  # fmt: skip
                event = {"status": "ready", "checks": checks, "waited": round(waited, 3),
                         "ticket": ticket}  # fmt: skip
                yield TriggerEvent({**event, **self.payload})  # type: ignore[no-untyped-call]
                return
            room_in = 0.0 if r.ready else r.wait
            nap = min(max(room_in, hold) + _EPSILON, self.poll_interval)
            self.log.info("budget %s: %d waiting before this %s call, turn in %.1fs; "
                          "sleeping %.1fs", budget.key, r.ahead, budget.priority, room_in,
                          nap)  # fmt: skip
            await asyncio.sleep(nap)

    def _hold(self) -> float:
        """Seconds left of ``min_deferral`` (wall clock: ``deferred_at`` is the worker's)."""
        if self.deferred_at is None or self.min_deferral <= 0:
            return 0.0
        return self.deferred_at + self.min_deferral - time.time()
