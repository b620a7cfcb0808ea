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
    ({"dag_id": "cl", "book_next": "sometimes"}, "true or false"),
    ({"dag_id": "bad id"}, "dag_id"),
    ({"schedule": "1h"}, "dag_id"),
    ({"dag_id": "cl", "start_date": "yesterday"}, "ISO 8601"),
])  # fmt: skip
def test_mistakes_are_config_errors_naming_the_problem(data: dict[str, object], message: str
                                                       ) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_mapping(data)


def test_scheduled_runs_book_the_next_by_default() -> None:
    assert PipelineConfig.from_mapping({"dag_id": "cl"}).book_next
    assert not PipelineConfig.from_mapping({"dag_id": "cl", "book_next": False}).book_next


def test_schedule_none_is_allowed_for_manual_or_asset_triggered_dags() -> None:
    assert PipelineConfig.from_mapping({"dag_id": "cl", "schedule": None}).schedule is None


def test_cron_expressions_and_presets_are_schedules() -> None:
    assert PipelineConfig.from_mapping({"dag_id": "cl", "schedule": "0  6 * * *"}).schedule == (
        "0 6 * * *")
    assert PipelineConfig.from_mapping({"dag_id": "cl", "schedule": "@daily"}).schedule == "@daily"
    # A duration string is still an interval.
    assert PipelineConfig.from_mapping({"dag_id": "cl", "schedule": "15m"}).schedule == timedelta(
        minutes=15)


def test_durations_are_accepted_for_max_sleep_everywhere() -> None:
    cfg = PipelineConfig.from_mapping({"dag_id": "cl", "max_sleep": "2s", "resources": [
        {"name": "dockets", "max_sleep": "5m"}]})
    assert cfg.max_sleep == 2.0 and cfg.resources[0].max_sleep == 300.0
    assert PipelineConfig.from_mapping({"dag_id": "cl", "max_sleep": 7}).max_sleep == 7.0


def test_the_new_keys_are_parsed() -> None:
    cfg = PipelineConfig.from_mapping({
        "dag_id": "cl", "owner": "data-eng", "queue": "courtlistener", "doc_md": "# Mine",
        "timezone": "America/New_York", "tags": "a, b",
        "default_args": {"execution_timeout": "2h", "depends_on_past": True},
        "alerts": {"email": "oncall@example.org, second@example.org", "smtp_conn_id": "smtp"},
    })
    assert (cfg.owner, cfg.queue, cfg.doc_md, cfg.timezone, cfg.tags) == (
        "data-eng", "courtlistener", "# Mine", "America/New_York", ("a", "b"))
    assert cfg.default_args == {"execution_timeout": timedelta(hours=2), "depends_on_past": True}
    assert cfg.alerts.email == ("oncall@example.org", "second@example.org")
    assert cfg.alerts.smtp_conn_id == "smtp"


@pytest.mark.parametrize(("data", "message"), [
    ({"dag_id": "cl", "max_sleep": "soon"}, "max_sleep"),
    ({"dag_id": "cl", "resources": [{"name": "dockets", "max_sleep": "x"}]}, "dockets.max_sleep"),
    ({"dag_id": "cl", "schedule": "@once"}, "schedule: '@once' is not an interval preset"),
    ({"dag_id": "cl", "schedule": "61 6 * * *"}, "'61 6 \\* \\* \\*' is not a valid cron"),
    ({"dag_id": "cl", "schedule": "every day"}, "schedule: 'every day' is neither"),
    ({"dag_id": "cl", "retries": "three"}, "retries: expected a whole number"),
    ({"dag_id": "cl", "retries": 1.5}, "retries: expected a whole number"),
    ({"dag_id": "cl", "max_active_runs": 0}, "max_active_runs must be >= 1"),
    ({"dag_id": "cl", "retry_exponential_backoff": "fast"}, "retry_exponential_backoff"),
    ({"dag_id": "cl", "owner": ""}, "owner: expected a non-empty string"),
    ({"dag_id": "cl", "queue": 3}, "queue: expected a non-empty string"),
    ({"dag_id": "cl", "timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
    ({"dag_id": "cl", "default_args": {"retries": 2}}, "default_args: \\['retries'\\]"),
    ({"dag_id": "cl", "default_args": {"email": "a@b"}}, "alerts.email"),
    ({"dag_id": "cl", "default_args": {"execution_timeout": "later"}},
     "default_args.execution_timeout"),
    ({"dag_id": "cl", "default_args": ["x"]}, "default_args: expected a mapping"),
    ({"dag_id": "cl", "alerts": {"email": ["oncall"]}}, "alerts.email: not e-mail"),
    ({"dag_id": "cl", "alerts": ["x"]}, "alerts: expected a mapping"),
    ({"dag_id": "cl", "resources": [3]}, "resources: expected a name or a mapping"),
    ({"dag_id": "cl", "sequential": "yes"}, "sequential must be true or false"),
    ({"dag_id": 5}, "dag_id: expected a string"),
])  # fmt: skip
def test_every_mistake_is_a_config_error_naming_the_key(data: dict[str, object], message: str
                                                        ) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_mapping(data)
