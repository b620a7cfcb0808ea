"""``BudgetSensor``: waits until the shared call budget has room, holding no worker slot.

The time-aware sensor done right: it asks the sliding-window ledger (every rate, any
server block, the database's clock) *when* the next call could be reserved, instead
of comparing a clock-hour counter with a limit, and it sleeps exactly until then:

- deferrable (the default): defers to :class:`BudgetTrigger`; the triggerer waits;
- ``mode="reschedule"`` (no triggerer needed): frees its slot and is rescheduled at
  the moment the ledger names, not after a fixed ``poke_interval``;
- ``mode="poke"``: sleeps in the worker (only for short waits).

It reserves nothing: the sync task after it reserves each call itself, so a sensor
that lets two tasks through at once cannot overspend — it only avoids starting a task
that would wait at once. It asks as its ``priority`` class (by default ``backfill`` in
backfill runs, else ``incremental``): room that a higher class is waiting for is not
room for it. It holds no place in the budget's queue (it makes no call; the task after
it queues when it reserves). Keep it out of the API pool: a pool limits concurrency, and a
sensor holding a slot would starve the tasks it guards.

    wait = BudgetSensor(task_id="wait_for_budget", courtlistener_conn_id="courtlistener_default")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.airflow.triggers import (
    DEFAULT_MIN_DEFERRAL,
    DEFAULT_POLL_INTERVAL,
    BudgetTrigger,
    seconds_until_turn,
)

DEFAULT_TIMEOUT = timedelta(hours=6)


class BudgetSensor(BaseSensorOperator):
    """Succeeds once the budget of ``courtlistener_conn_id`` has room for a call."""

    template_fields = ("courtlistener_conn_id",)
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        courtlistener_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        poke_interval: timedelta | float = DEFAULT_POLL_INTERVAL,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        min_deferral: float = DEFAULT_MIN_DEFERRAL,
        priority: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.courtlistener_conn_id = courtlistener_conn_id
        if priority is not None:
            from courtflow.budget.classes import parse_priority

            priority = parse_priority(priority)
        self.priority = priority
        self._run_priority: str | None = None
        self.min_deferral = min_deferral
        # Deferrable unless a mode that frees the slot some other way was asked for.
        self.deferrable = (self.mode == "poke") if deferrable is None else deferrable
        self._wait: float | None = None

    def _seconds_until_room(self) -> float:
        hook = CourtListenerHook(self.courtlistener_conn_id)
        settings = hook.get_settings().with_overrides(priority=self._run_priority)
        return seconds_until_turn(hook.get_budget(settings))

    def execute(self, context: Context) -> None:
        from courtflow.airflow.windows import run_priority

        self._run_priority = self.priority or run_priority(context.get("dag_run"))
        if not self.deferrable:
            super().execute(context)
            return
        wait = self._seconds_until_room()
        if wait <= 0:
            self.log.info("call budget has room: go")
            return
        self.log.info("call budget full for %.1fs: deferring (worker slot freed)", wait)
        trigger = BudgetTrigger(
            time.time() + wait,
            self.courtlistener_conn_id,
            poll_interval=self.poke_interval,
            payload={"deferred_for": round(wait, 3)},
            deferred_at=time.time(),
            min_deferral=self.min_deferral,
            priority=self._run_priority,
            queue=False,
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        self.log.info("call budget has room after waiting in the triggerer: %s", event)

    def poke(self, context: Context) -> bool:
        self._wait = self._seconds_until_room()
        if self._wait > 0:
            self.log.info("call budget full for %.1fs", self._wait)
        return self._wait <= 0

    def _get_next_poke_interval(
        self, started_at: Any, run_duration: Callable[[], float], poke_count: int
    ) -> float:
        """Come back when the ledger says there is room, not after a fixed interval."""
        if self._wait is None:
            return float(super()._get_next_poke_interval(started_at, run_duration, poke_count))
        # Not sooner than min_deferral: a quickly re-queued sensor meets the same
        # scheduler race as a quickly resumed deferral (see triggers.DEFAULT_MIN_DEFERRAL).
        interval = max(1.0, self._wait + 0.05, self.min_deferral)
        interval = min(interval, max(1.0, self.timeout - run_duration()))
        if self.max_wait is not None:
            interval = min(interval, self.max_wait.total_seconds())
        return interval
