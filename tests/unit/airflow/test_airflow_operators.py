"""Operator, sensor and trigger pieces that need no running Airflow: error mapping,
per-page metrics, the measuring gate, the trigger's serialization, reschedule timing."""

from __future__ import annotations

import importlib

import pytest
from airflow.sdk.exceptions import AirflowFailException

from courtflow.airflow.operators import (
    CourtListenerFatalError,
    CourtListenerSyncOperator,
    PageRecorder,
    observed,
)
from courtflow.airflow.sensors import BudgetSensor
from courtflow.airflow.totals import TaskTotals
from courtflow.airflow.triggers import BudgetTrigger
from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.window import parse_instant
from courtflow.client.gate import CallReport, PassThroughGate
from courtflow.errors import AuthError, ConfigError
from courtflow.observe.metrics import MemorySink
from courtflow.run.summary import Stored
from courtflow.store import Checkpoint

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def test_fatal_client_errors_fail_the_task_without_retry_and_without_the_token() -> None:
    error = CourtListenerFatalError(AuthError(f"HTTP 401 (token {TOKEN})"), TOKEN)
    assert isinstance(error, AirflowFailException)  # Airflow's "do not retry"
    assert error.error_class == "AuthError"
    assert str(error).startswith("AuthError: ") and TOKEN not in str(error)


def test_page_recorder_records_rows_pages_and_each_pages_duration() -> None:
    ticks = iter([10.0, 10.5, 12.0])
    sink = MemorySink()
    record = PageRecorder(sink, clock=lambda: next(ticks))
    spec = get_resource("docket-entries")
    start, end = parse_instant("2024-01-01"), parse_instant("2024-01-02")
    checkpoint = Checkpoint(spec.name, start, end, None, 1, 20, 1, False)
    record(spec, checkpoint, Stored(new=15, changed=5, unchanged=0))
    record(spec, checkpoint, Stored(new=0, changed=7, unchanged=13))
    assert sink.counters() == {"courtlistener.rows_upserted.docket-entries": 27,
                               "courtlistener.pages.docket-entries": 2}
    # The task's totals split what it wrote, and count what it read unchanged.
    assert record.totals == TaskTotals(pages=2, rows=27, new=15, changed=12, unchanged=13)
    carried = TaskTotals.from_payload(record.totals.as_payload())
    assert carried == record.totals  # through a deferral's payload, whole
    assert sink.timings("courtlistener.page_duration") == [500.0, 1500.0]


def test_observed_gate_wrapper_measures_every_call() -> None:
    sink = MemorySink()
    gate = observed(sink)(PassThroughGate())
    ticket = gate.reserve("dockets/")
    gate.report(ticket, CallReport(status=503, outcome="error", duration_ms=4.0,
                                   error_class="ServerError"))
    counters = sink.counters()
    assert counters["courtlistener.calls"] == 1
    assert counters["courtlistener.errors.ServerError"] == 1
    assert sink.timings("courtlistener.budget.wait")


def test_budget_trigger_serializes_to_a_classpath_and_kwargs_that_rebuild_it() -> None:
    trigger = BudgetTrigger(1700000000.5, "cl_conn", poll_interval=5,
                            payload={"window": ["2024-01-01T00:00:00+00:00",
                                                "2024-01-02T00:00:00+00:00"], "deferrals": 2})
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs["payload"]["deferrals"] == 2 and kwargs["courtlistener_conn_id"] == "cl_conn"
    assert all(TOKEN not in str(v) for v in kwargs.values())  # the token never goes in


def test_unknown_resource_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ConfigError, match="dockts"):
        CourtListenerSyncOperator(task_id="sync", resource="dockts")


def test_reschedule_sensor_comes_back_when_the_ledger_says_not_after_poke_interval() -> None:
    sensor = BudgetSensor(task_id="wait", mode="reschedule", poke_interval=300, timeout=60,
                          min_deferral=0)  # fmt: skip
    assert not sensor.deferrable
    sensor._wait = 3.2
    assert sensor._get_next_poke_interval(0.0, lambda: 10.0, 1) == pytest.approx(3.25)
    sensor._wait = 500.0  # never past the sensor's timeout
    assert sensor._get_next_poke_interval(0.0, lambda: 10.0, 1) == pytest.approx(50.0)
    assert BudgetSensor(task_id="w2").deferrable  # the default
    slow = BudgetSensor(task_id="w3", mode="reschedule", timeout=60, min_deferral=15)
    slow._wait = 3.2  # never back sooner than min_deferral
    assert slow._get_next_poke_interval(0.0, lambda: 10.0, 1) == pytest.approx(15.0)
