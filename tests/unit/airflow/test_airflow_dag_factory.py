"""The DAG factory: one TaskGroup per resource (budget sensor -> sync -> Asset), an interval
timetable, retries with exponential backoff, alerts, and a DAG file that does no I/O."""

from __future__ import annotations

import runpy
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from courtflow.airflow.dag_factory import build_dag
from courtflow.airflow.notifications import SlackAlertNotifier, WebhookNotifier
from courtflow.airflow.operators import CourtListenerSyncOperator
from courtflow.airflow.sensors import BudgetSensor

REPO = Path(__file__).resolve().parents[3]


def interval_seconds(dag: Any) -> float:
    """The timetable's interval, as the scheduler receives it (serialized)."""
    from airflow.serialization.serialized_objects import DagSerialization

    timetable = DagSerialization.to_dict(dag)["dag"]["timetable"]
    assert timetable["__type"] == "airflow.timetables.interval.DeltaDataIntervalTimetable"
    return float(timetable["__var"]["delta"])


def test_each_resource_waits_for_budget_then_syncs_and_publishes_its_asset() -> None:
    dag = build_dag({"dag_id": "cl", "resources": ["dockets", "docket-entries"]})
    assert sorted(dag.task_ids) == ["docket_entries.sync", "docket_entries.wait_for_budget",
                                    "dockets.sync", "dockets.wait_for_budget"]
    for group in ("dockets", "docket_entries"):
        sensor, sync = dag.get_task(f"{group}.wait_for_budget"), dag.get_task(f"{group}.sync")
        assert isinstance(sensor, BudgetSensor) and isinstance(sync, CourtListenerSyncOperator)
        assert sync.upstream_task_ids == {sensor.task_id}
        assert sensor.deferrable and sensor.mode == "poke"
    outlets = dag.get_task("docket_entries.sync").outlets
    assert [(a.uri.rstrip("/"), a.name) for a in outlets] == [
        ("courtlistener://docket-entries", "courtlistener_docket-entries")]
    # Groups are independent unless sequential is asked for.
    assert not dag.get_task("docket_entries.wait_for_budget").upstream_task_ids


def test_only_the_sync_task_takes_a_slot_of_the_api_pool() -> None:
    dag = build_dag({"dag_id": "cl", "resources": ["dockets"], "pool": "cl_pool"})
    assert dag.get_task("dockets.sync").pool == "cl_pool"
    # A sensor holding a pool slot would starve the tasks it guards.
    assert dag.get_task("dockets.wait_for_budget").pool == "default_pool"


def test_schedule_is_an_interval_timetable_so_runs_have_real_data_intervals() -> None:
    from airflow.sdk import DeltaDataIntervalTimetable

    dag = build_dag({"dag_id": "cl", "schedule": "2h", "resources": ["dockets"]})
    assert isinstance(dag.timetable, DeltaDataIntervalTimetable)
    assert interval_seconds(dag) == 7200.0


def test_retries_back_off_exponentially_and_failures_alert() -> None:
    dag = build_dag({
        "dag_id": "cl", "resources": ["dockets"], "retries": 4, "retry_delay": "10s",
        "retry_exponential_backoff": 3.0, "max_retry_delay": "10m",
        "alerts": {"webhook_url": "http://127.0.0.1:1/hook", "slack_webhook_conn_id": "slack"},
    })
    sync = dag.get_task("dockets.sync")
    assert (sync.retries, sync.retry_delay, sync.retry_exponential_backoff,
            sync.max_retry_delay) == (4, timedelta(seconds=10), 3.0, timedelta(minutes=10))
    kinds = [type(n) for n in sync.on_failure_callback]
    assert kinds == [WebhookNotifier, SlackAlertNotifier]
    assert not build_dag({"dag_id": "c2", "resources": ["dockets"]}).get_task(
        "dockets.sync").on_failure_callback


def test_fields_omit_and_max_sleep_reach_each_resources_operator() -> None:
    dag = build_dag({"dag_id": "cl", "max_sleep": 5, "resources": [
        {"name": "opinions", "fields": ["id", "date_modified"]},
        {"name": "clusters", "omit": ["sub_opinions"], "max_sleep": 0}]})
    opinions, clusters = dag.get_task("opinions.sync"), dag.get_task("clusters.sync")
    assert (opinions.fields, opinions.omit, opinions.max_sleep) == (
        ["id", "date_modified"], None, 5.0)
    assert (clusters.fields, clusters.omit, clusters.max_sleep) == (None, ["sub_opinions"], 0.0)


def test_sequential_resources_load_in_the_order_listed() -> None:
    dag = build_dag({"dag_id": "cl", "sequential": True,
                     "resources": ["dockets", "clusters", "opinions"]})
    assert dag.get_task("clusters.wait_for_budget").upstream_task_ids == {"dockets.sync"}
    assert dag.get_task("opinions.wait_for_budget").upstream_task_ids == {"clusters.sync"}


def test_reschedule_and_no_sensor_modes() -> None:
    dag = build_dag({"dag_id": "cl", "resources": ["dockets"], "sensor": "reschedule"})
    sensor = dag.get_task("dockets.wait_for_budget")
    assert sensor.mode == "reschedule" and not sensor.deferrable
    bare = build_dag({"dag_id": "c2", "resources": ["dockets"], "sensor": "none"})
    assert bare.task_ids == ["dockets.sync"]


def test_dag_id_plus_keyword_settings_still_work() -> None:
    dag = build_dag("cl", resources=["courts"], schedule=timedelta(minutes=15))
    assert dag.dag_id == "cl" and interval_seconds(dag) == 900.0


def test_the_dag_serializes_and_deserializes_like_the_scheduler_does() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag = build_dag({"dag_id": "cl", "alerts": {"webhook_url": "http://127.0.0.1:1/h"}})
    data = DagSerialization.to_dict(dag)
    back = DagSerialization.from_dict(data)
    assert sorted(back.task_ids) == sorted(dag.task_ids)
    assert back.get_task("dockets.sync").pool == "courtlistener_api_pool"


@pytest.mark.parametrize(
    ("dag_file", "dag_id", "some_tasks"),
    [
        ("courtlistener_pipeline.py", "courtlistener_pipeline",
         {"courts.sync", "opinions.wait_for_budget"}),
        ("courtlistener_scoped.py", "courtlistener_scoped",
         {"dockets_scotus.sync", "opinions_ca9.sync", "clusters_ca9.wait_for_budget"}),
    ],
)  # fmt: skip
def test_the_dag_file_parses_without_network_database_or_secrets(
    monkeypatch: pytest.MonkeyPatch, dag_file: str, dag_id: str, some_tasks: set[str]
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the DAG file opened a network connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("AIRFLOW_CONN_COURTLISTENER_DEFAULT", raising=False)
    monkeypatch.setenv("COURTFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    namespace = runpy.run_path(str(REPO / "dags" / dag_file))
    dag = namespace["dag"]
    assert dag.dag_id == dag_id
    assert {t.task_id for t in dag.tasks} >= some_tasks
