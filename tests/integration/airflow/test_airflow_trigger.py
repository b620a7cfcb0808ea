"""BudgetTrigger and BudgetSensor against a real ledger (SQLite target database): the
trigger sleeps until the sliding windows have room, re-checks, and fires once; the
deferrable sensor defers only when the budget is full."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.triggers.base import TriggerEvent
from airflow_support import connection

from bounds import bound
from courtflow.airflow.hooks import CourtListenerHook
from courtflow.airflow.sensors import BudgetSensor
from courtflow.airflow.triggers import BudgetTrigger, seconds_until_room

TOKEN = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e"


@pytest.fixture
def conn_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_CL_TRIGGER", connection(password=TOKEN, extra={
        "database_url": f"sqlite:///{tmp_path / 'target.sqlite'}", "rates": "2/1s",
        "safety_margin": 0.2}))  # fmt: skip
    return "cl_trigger"


async def first_event(trigger: BudgetTrigger, timeout: float) -> TriggerEvent:
    async def first() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def test_trigger_fires_once_the_sliding_window_has_room(conn_id: str) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert budget.try_reserve("dockets/").granted and budget.try_reserve("dockets/").granted
    wait = seconds_until_room(budget)
    assert wait > 0  # full: both calls are inside the 1.2 s window
    window = ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]
    trigger = BudgetTrigger(time.time() + wait, conn_id, poll_interval=5,
                            payload={"window": window, "deferrals": 1})  # fmt: skip
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["status"] == "ready"
    assert event.payload["window"] == window and event.payload["deferrals"] == 1
    assert event.payload["checks"] >= 2  # it looked, slept, and looked again
    assert seconds_until_room(budget) <= 0
    assert budget.try_reserve("dockets/").granted


def test_trigger_does_not_fire_early_on_an_optimistic_estimate(conn_id: str) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert budget.try_reserve("dockets/").granted and budget.try_reserve("dockets/").granted
    # The operator's estimate says "now"; the ledger says otherwise and wins.
    trigger = BudgetTrigger(time.time(), conn_id, poll_interval=0.3)
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["checks"] >= 2 and seconds_until_room(budget) <= 0


def test_trigger_holds_a_resume_until_min_deferral_has_passed(conn_id: str) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert seconds_until_room(budget) <= 0  # room now, yet the task just deferred
    trigger = BudgetTrigger(time.time(), conn_id, poll_interval=5, deferred_at=time.time(),
                            min_deferral=1.0)  # fmt: skip
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["checks"] == 2  # room at once, held, checked again, fired


def test_deferrable_sensor_defers_only_while_the_budget_is_full(conn_id: str) -> None:
    sensor = BudgetSensor(task_id="wait_for_budget", courtlistener_conn_id=conn_id)
    assert sensor.execute({}) is None  # room: no deferral, no trigger
    budget = CourtListenerHook(conn_id).get_budget()
    assert budget.try_reserve("dockets/").granted and budget.try_reserve("dockets/").granted
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, BudgetTrigger) and trigger.courtlistener_conn_id == conn_id
    assert deferred.value.method_name == "execute_complete"
    assert 0 < trigger.payload["deferred_for"] <= 1.2 + 0.1
