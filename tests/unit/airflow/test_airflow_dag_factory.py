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


def test_sync_tasks_book_the_next_run_unless_told_not_to() -> None:
    assert build_dag({"dag_id": "c1", "resources": ["dockets"]}).get_task(
        "dockets.sync").book_next  # fmt: skip
    assert not build_dag({"dag_id": "c2", "resources": ["dockets"], "book_next": False}).get_task(
        "dockets.sync").book_next  # fmt: skip


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


def first_intervals(dag: Any, count: int) -> list[tuple[str, str]]:
    """The data intervals the scheduler would give the first ``count`` runs (catchup on)."""
    from datetime import UTC, datetime

    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
    restriction = TimeRestriction(earliest=datetime(2024, 1, 1, tzinfo=UTC), latest=None,
                                  catchup=True)  # fmt: skip
    found, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last,
                                          restriction=restriction)  # fmt: skip
        last = info.data_interval
        found.append((last.start.isoformat(), last.end.isoformat()))
    return found


def test_cron_schedules_give_runs_real_data_intervals() -> None:
    dag = build_dag({"dag_id": "cl", "schedule": "0 6 * * *", "resources": ["dockets"]})
    assert first_intervals(dag, 2) == [
        ("2024-01-01T06:00:00+00:00", "2024-01-02T06:00:00+00:00"),
        ("2024-01-02T06:00:00+00:00", "2024-01-03T06:00:00+00:00")]


def test_presets_and_time_zones_give_real_data_intervals() -> None:
    daily = build_dag({"dag_id": "cl", "schedule": "@daily", "resources": ["dockets"]})
    assert first_intervals(daily, 1) == [
        ("2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00")]
    # 06:00 in New York is 11:00 UTC in January.
    ny = build_dag({"dag_id": "c2", "schedule": "0 6 * * 1", "timezone": "America/New_York",
                    "resources": ["dockets"]})  # fmt: skip
    ((start, end),) = first_intervals(ny, 1)
    from datetime import datetime

    assert datetime.fromisoformat(start).isoformat() == "2024-01-01T11:00:00+00:00"
    assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days == 7


def test_owner_queue_tags_doc_and_default_args_reach_every_task() -> None:
    dag = build_dag({
        "dag_id": "cl", "resources": ["dockets"], "owner": "data-eng", "queue": "cl_queue",
        "tags": ["legal"], "doc_md": "## Our copy of CourtListener",
        "default_args": {"execution_timeout": "1h", "depends_on_past": True},
    })
    assert dag.tags == {"legal"} or list(dag.tags) == ["legal"]
    assert dag.doc_md.startswith("## Our copy of CourtListener")
    assert "courtlistener://<resource>" in dag.doc_md  # courtflow's own description follows
    for task in dag.tasks:
        assert (task.owner, task.queue) == ("data-eng", "cl_queue")
        assert task.execution_timeout == timedelta(hours=1) and task.depends_on_past


def test_email_alerts_join_webhook_and_slack_and_a_callback_of_ones_own() -> None:
    from courtflow.airflow.notifications import EmailAlertNotifier

    def mine(context: Any) -> None:
        return None

    dag = build_dag({
        "dag_id": "cl", "resources": ["dockets"],
        "default_args": {"on_failure_callback": mine},
        "alerts": {"webhook_url": "http://127.0.0.1:1/h", "email": ["oncall@example.org"],
                   "smtp_conn_id": "smtp_alerts"},
    })
    callbacks = dag.get_task("dockets.sync").on_failure_callback
    assert callbacks[0] is mine
    assert [type(c) for c in callbacks[1:]] == [WebhookNotifier, EmailAlertNotifier]
    email = callbacks[2]
    assert (email.to, email.smtp_conn_id) == (["oncall@example.org"], "smtp_alerts")


def test_airflow_refusing_a_passed_through_argument_is_a_config_error() -> None:
    from courtflow.errors import ConfigError

    with pytest.raises(ConfigError, match="DAG 'cl': TypeError: 'priority_weight'"):
        build_dag({"dag_id": "cl", "resources": ["dockets"],
                   "default_args": {"priority_weight": "high"}})


def test_a_list_of_values_reaches_the_operator_and_survives_serialization() -> None:
    # type takes several values in production (a MultipleChoiceFilter): repeated params.
    from airflow.serialization.serialized_objects import DagSerialization

    dag = build_dag({"dag_id": "cl", "resources": [
        {"name": "opinions", "filters": {"type": ["020lead", "010combined"],
                                         "per_curiam": False}}]})  # fmt: skip
    sync = dag.get_task("opinions.sync")
    assert sync.filters == {"per_curiam": "false", "type": ("010combined", "020lead")}
    back = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("opinions.sync")
    assert back.task_id == "opinions.sync"
