"""The declarative DAG configuration: parsing, defaults and the errors a typo gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtflow.airflow.dag_config import PipelineConfig, ResourceConfig, parse_duration
from courtflow.errors import ConfigError


def test_durations_accept_seconds_units_and_timedeltas() -> None:
    assert parse_duration(30, name="x") == timedelta(seconds=30)
    assert parse_duration("1.5s", name="x") == timedelta(seconds=1.5)
    assert parse_duration("5m", name="x") == timedelta(minutes=5)
    assert parse_duration("2d", name="x") == timedelta(days=2)
    assert parse_duration(timedelta(hours=1), name="x") == timedelta(hours=1)
    for bad in ("soon", "-1s", True, None):
        with pytest.raises(ConfigError):
            parse_duration(bad, name="x")


def test_a_mapping_becomes_a_validated_config() -> None:
    cfg = PipelineConfig.from_mapping({
        "dag_id": "cl", "schedule": "30m", "start_date": "2024-02-01", "retries": "2",
        "retry_delay": 5, "resources": ["courts", {"name": "opinions", "omit": "html,xml"}],
        "alerts": {"webhook_url": "http://127.0.0.1:1/hook"}, "sequential": True,
    })
    assert cfg.schedule == timedelta(minutes=30)
    assert cfg.start_date == datetime(2024, 2, 1, tzinfo=UTC)
    assert (cfg.retries, cfg.retry_delay, cfg.sequential) == (2, timedelta(seconds=5), True)
    assert cfg.resources == (ResourceConfig("courts"),
                             ResourceConfig("opinions", omit=("html", "xml")))
    assert cfg.alerts.webhook_url == "http://127.0.0.1:1/hook"


def test_defaults_are_an_hourly_dag_of_the_default_resources() -> None:
    cfg = PipelineConfig.from_mapping({"dag_id": "cl"})
    assert cfg.schedule == timedelta(hours=1) and not cfg.catchup and cfg.max_active_runs == 1
    assert [r.name for r in cfg.resources] == ["courts", "dockets", "clusters", "opinions"]
    assert cfg.pool == "courtlistener_api_pool" and cfg.sensor == "deferrable"


@pytest.mark.parametrize(("data", "message"), [
    ({"dag_id": "cl", "retires": 3}, "unknown key"),
    ({"dag_id": "cl", "resources": ["dockets", "dockts"]}, "dockts"),
    ({"dag_id": "cl", "resources": [{"name": "dockets", "omitt": []}]}, "unknown key"),
    ({"dag_id": "cl", "resources": ["dockets", "dockets"]}, "twice"),
    ({"dag_id": "cl", "resources": []}, "at least one"),
    ({"dag_id": "cl", "sensor": "sometimes"}, "sensor"),
    ({"dag_id": "cl", "schedule": 0}, "positive"),
    ({"dag_id": "cl", "catchup": "no"}, "true or false"),
    ({"dag_id": "bad id"}, "dag_id"),
    ({"schedule": "1h"}, "dag_id"),
    ({"dag_id": "cl", "start_date": "yesterday"}, "ISO 8601"),
])  # fmt: skip
def test_mistakes_are_config_errors_naming_the_problem(data: dict[str, object], message: str
                                                       ) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_mapping(data)


def test_schedule_none_is_allowed_for_manual_or_asset_triggered_dags() -> None:
    assert PipelineConfig.from_mapping({"dag_id": "cl", "schedule": None}).schedule is None
