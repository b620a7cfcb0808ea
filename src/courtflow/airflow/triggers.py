"""``BudgetTrigger``: waits, off the worker, until the call budget has room.

It sleeps until the moment the ledger computed (never polling faster than needed),
re-checks the ledger once awake (others may have taken the room), and fires one event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook


class BudgetTrigger(BaseTrigger):
    def __init__(
        self, available_at: float, courtlistener_conn_id: str = DEFAULT_CONN_ID,
        max_checks: int = 1000,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.available_at = float(available_at)
        self.courtlistener_conn_id = courtlistener_conn_id
        self.max_checks = max_checks

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "courtflow.airflow.triggers.BudgetTrigger",
            {
                "available_at": self.available_at,
                "courtlistener_conn_id": self.courtlistener_conn_id,
                "max_checks": self.max_checks,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        available_at = self.available_at
        checks = 0
        while True:
            delay = available_at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            checks += 1
            available_at = await asyncio.to_thread(self._next_available)
            if available_at <= time.time() or checks >= self.max_checks:
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"status": "ready", "checks": checks, "at": time.time()}
                )
                return

    def _next_available(self) -> float:
        from courtflow.budget.budget import Budget
        from courtflow.store.engine import make_engine

        settings = CourtListenerHook(self.courtlistener_conn_id).get_settings()
        budget = Budget.from_settings(settings, make_engine(settings.database_url))
        return budget.next_available()
