"""A deferred task keeps its place in the budget's queue through BudgetTrigger (SQLite
ledger, the trigger run as the triggerer runs it): the trigger renews the ticket, fires
on the ticket's turn, holds the place for the resumed task and hands the ticket back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from airflow.triggers.base import TriggerEvent

from bounds import bound
from courtflow.airflow.hooks import CourtListenerHook
from courtflow.airflow.triggers import BudgetTrigger
from courtflow.budget.classes import BACKFILL, INCREMENTAL
from courtflow.errors import BudgetExhaustedError

TOKEN = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e"


@pytest.fixture
def conn_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    extra = {"database_url": f"sqlite:///{tmp_path / 'target.sqlite'}", "rates": "1/2s",
             "safety_margin": 0.1}  # fmt: skip
    value = json.dumps({"conn_type": "courtlistener", "password": TOKEN, "extra": extra})
    monkeypatch.setenv("AIRFLOW_CONN_CL_QUEUE", value)
    return "cl_queue"


async def first_event(trigger: BudgetTrigger, timeout: float) -> TriggerEvent:
    async def first() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def test_the_trigger_keeps_the_deferred_tasks_place_and_hands_it_back(conn_id: str) -> None:
    hook = CourtListenerHook(conn_id)
    settings = hook.get_settings().with_overrides(priority=INCREMENTAL, max_sleep=0.0)
    task = hook.get_budget(settings)
    task.reserve("dockets/")  # the budget is full for 2 s
    with pytest.raises(BudgetExhaustedError) as deferred:
        task.reserve("dockets/")
    ticket = deferred.value.ticket
    assert ticket is not None
    trigger = BudgetTrigger(
        deferred.value.available_at, conn_id, poll_interval=5, ticket=ticket,
        priority=INCREMENTAL, payload={"deferrals": 1},
    )  # fmt: skip
    _, args = trigger.serialize()
    assert args["ticket"] == ticket and args["priority"] == INCREMENTAL
    event = asyncio.run(first_event(trigger, timeout=bound(30)))
    assert event.payload["status"] == "ready" and event.payload["ticket"] == ticket
    assert event.payload["deferrals"] == 1
    # While the task resumes, its place is held: a lower class that comes now waits.
    newcomer = hook.get_budget(settings.with_overrides(priority=BACKFILL))
    refused = newcomer.try_reserve("dockets/")
    assert not refused.granted and refused.ahead == 1
    resumed = hook.get_budget(settings)
    resumed.adopt_ticket(event.payload["ticket"])
    assert resumed.reserve("dockets/").call_id is not None
    resumed.close()


def test_a_sensor_style_trigger_takes_no_place(conn_id: str) -> None:
    hook = CourtListenerHook(conn_id)
    settings = hook.get_settings().with_overrides(priority=INCREMENTAL)
    budget = hook.get_budget(settings)
    assert budget.try_reserve("dockets/").granted
    trigger = BudgetTrigger(0.0, conn_id, poll_interval=5, priority=INCREMENTAL, queue=False)
    event = asyncio.run(first_event(trigger, timeout=bound(30)))
    assert event.payload["ticket"] is None
    assert budget.try_reserve("dockets/").granted  # nobody holds a place
