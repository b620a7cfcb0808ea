"""The skeleton every budgeted operator shares: run, defer to the budget, resume.

A task that waits for the call budget longer than ``max_sleep`` leaves its worker: it
defers to a :class:`~courtflow.airflow.triggers.BudgetTrigger` and comes back in
``execute_complete`` in a fresh operator instance, carrying what it needs in the
trigger's payload. Subclasses do their work in ``_run(context, resume)``: ``resume`` is
empty on the first stretch and the trigger's event after each deferral.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator, Context

from courtflow.airflow.triggers import BudgetTrigger


class BudgetDeferringOperator(BaseOperator):
    """Base of the sync and search operators (see the module's doc)."""

    # Set by the subclass's __init__.
    courtlistener_conn_id: str
    poll_interval: float
    min_deferral: float

    def execute(self, context: Context) -> dict[str, Any]:
        return self._run(context, {})

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        event = event or {}
        self.log.info("resuming after %.1fs in the triggerer", float(event.get("waited", 0.0)))
        return self._run(context, event)

    def _run(self, context: Context, resume: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _defer_to_budget(
        self, available_at: float, payload: dict[str, Any], *,
        ticket: int | None = None, priority: str | None = None,
    ) -> None:  # fmt: skip
        """Free the worker until the budget has room; ``payload`` comes back in the event."""
        trigger = BudgetTrigger(
            available_at, self.courtlistener_conn_id, poll_interval=self.poll_interval,
            payload=payload, deferred_at=time.time(), min_deferral=self.min_deferral,
            ticket=ticket, priority=priority,
        )  # fmt: skip
        self.defer(trigger=trigger, method_name="execute_complete")
