"""BudgetTrigger and BudgetSensor against a real ledger (SQLite target database): the
trigger sleeps until the sliding windows have room, re-checks, and fires once; the
deferrable sensor defers only when the budget is full.

The budget is 2/hour, so a full window stays full however slow the host; the trigger's
naps are driven: each one does to the ledger (or to the deferral) what its time would
have done, so the checks the trigger makes are the same at any speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.triggers.base import TriggerEvent
from airflow_support import connection
from sqlalchemy import update

from bounds import bound
from courtflow.airflow import triggers
from courtflow.airflow.hooks import CourtListenerHook
from courtflow.airflow.sensors import BudgetSensor
from courtflow.airflow.triggers import BudgetTrigger, seconds_until_room
from courtflow.budget import ledger
from courtflow.budget.budget import Budget
from courtflow.budget.tables import api_call_ledger

TOKEN = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e"


@pytest.fixture
def conn_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_CL_TRIGGER", connection(password=TOKEN, extra={
        "database_url": f"sqlite:///{tmp_path / 'target.sqlite'}", "rates": "2/hour",
        "safety_margin": 0.2}))  # fmt: skip
    return "cl_trigger"


def drive_naps(monkeypatch: pytest.MonkeyPatch, on_nap: Callable[[], object]) -> list[float]:
    """The trigger's naps, recorded (before ``on_nap`` runs); each runs ``on_nap`` (what
    the nap's time would do) instead of sleeping. Only the trigger module's asyncio is
    replaced."""
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        on_nap()
        await asyncio.sleep(0)

    fake = SimpleNamespace(sleep=nap, to_thread=asyncio.to_thread)
    monkeypatch.setattr(triggers, "asyncio", fake)
    return naps


def free_the_window(budget: Budget) -> None:
    """What the hour does to the ledger: every call leaves the windows."""
    L = api_call_ledger
    with budget.engine.begin() as conn:
        conn.execute(update(L).where(L.c.budget_key == budget.key)
                     .values(reserved_at=ledger.db_now(conn) - timedelta(hours=2)))  # fmt: skip


async def first_event(trigger: BudgetTrigger, timeout: float) -> TriggerEvent:
    async def first() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


def test_trigger_fires_once_the_sliding_window_has_room(
    conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert budget.try_reserve("dockets/").granted and budget.try_reserve("dockets/").granted
    wait = seconds_until_room(budget)
    assert wait > 3500  # full: both calls are inside the hour's window
    window = ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]
    trigger = BudgetTrigger(time.time() + wait, conn_id, poll_interval=5,
                            payload={"window": window, "deferrals": 1})  # fmt: skip
    # The window stays full through the first nap and has room after the second.
    naps = drive_naps(monkeypatch, lambda: len(naps) == 2 and free_the_window(budget))
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["status"] == "ready"
    assert event.payload["window"] == window and event.payload["deferrals"] == 1
    assert event.payload["checks"] == 3 and naps == [5, 5]  # looked after every nap
    assert seconds_until_room(budget) <= 0
    assert budget.try_reserve("dockets/").granted


def test_trigger_does_not_fire_early_on_an_optimistic_estimate(
    conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert budget.try_reserve("dockets/").granted and budget.try_reserve("dockets/").granted
    # The operator's estimate says "now"; the ledger says otherwise and wins.
    trigger = BudgetTrigger(time.time(), conn_id, poll_interval=0.3)
    naps = drive_naps(monkeypatch, lambda: free_the_window(budget))
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["checks"] == 2 and naps == [0.3]
    assert seconds_until_room(budget) <= 0


def test_trigger_holds_a_resume_until_min_deferral_has_passed(
    conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = CourtListenerHook(conn_id).get_budget()
    assert seconds_until_room(budget) <= 0  # room now, yet the task just deferred
    trigger = BudgetTrigger(time.time(), conn_id, poll_interval=5, deferred_at=time.time(),
                            min_deferral=3600.0)  # fmt: skip

    def deferral_passes() -> None:  # what the nap's time does: the deferral has lasted
        assert trigger.deferred_at is not None
        trigger.deferred_at -= trigger.min_deferral

    naps = drive_naps(monkeypatch, deferral_passes)
    event = asyncio.run(first_event(trigger, timeout=bound(20)))
    assert event.payload["checks"] == 2 and naps == [5]  # room, held, checked again, fired


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
    assert 3500 < trigger.payload["deferred_for"] <= 3600 + 0.2 + 0.1
