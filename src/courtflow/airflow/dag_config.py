"""The declarative configuration of one courtflow DAG: values only, validated when built.

A DAG file is a plain mapping handed to :func:`~courtflow.airflow.dag_factory.build_dag`::

    CONFIG = {
        "dag_id": "courtlistener_pipeline",
        "schedule": "1h",                       # a timedelta: real data intervals
        "resources": ["courts", {"name": "dockets", "omit": ["original_court_info"]}],
        "retries": 3, "retry_delay": "30s",
        "alerts": {"webhook_url": "https://alerts.example/hook"},
    }

Durations are seconds (a number), ``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` or a
``timedelta``; dates are ISO 8601 strings or aware datetimes. Unknown keys are
errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from courtflow.errors import ConfigError
from courtflow.resources import DEFAULT_RESOURCES, get_resource
from courtflow.window import parse_instant

API_POOL = "courtlistener_api_pool"
SensorMode = Literal["deferrable", "reschedule", "none"]
_SENSOR_MODES: tuple[str, ...] = ("deferrable", "reschedule", "none")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, *, name: str) -> timedelta:
    """``30``, ``"30s"``, ``"5m"``, ``"1h"``, ``"2d"`` or a timedelta; positive or zero."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ConfigError(f"{name}: expected seconds or a duration like '30s', '5m', '1h', "
                          f"got {value!r}")  # fmt: skip
    if seconds < 0:
        raise ConfigError(f"{name} must not be negative, got {value!r}")
    return timedelta(seconds=seconds)


def _instant(value: Any, *, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{name} must be timezone-aware")
        return value
    return parse_instant(str(value), name=name)


def _strings(value: Any, *, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    return tuple(i.strip() for i in items if i.strip())


def _priority(value: Any, *, name: str) -> str | None:
    from courtflow.budget.classes import parse_priority

    return None if value is None else parse_priority(str(value), name=name)


def _check_keys(data: Mapping[str, Any], cls: type, what: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")


@dataclass(frozen=True)
class ResourceConfig:
    """One resource of the DAG: which fields to ask for, which to leave out."""

    name: str
    fields: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    max_sleep: float | None = None  # overrides the DAG's for this resource
    priority: str | None = None  # budget class; overrides the DAG's for this resource

    @property
    def group_id(self) -> str:
        return self.name.replace("-", "_")

    @classmethod
    def from_value(cls, value: str | Mapping[str, Any] | ResourceConfig) -> ResourceConfig:
        if isinstance(value, ResourceConfig):
            return value
        if isinstance(value, str):
            value = {"name": value}
        _check_keys(value, cls, f"resource {value.get('name')!r}")
        name = str(value.get("name", "")).strip()
        get_resource(name)  # ConfigError naming the known resources
        max_sleep = value.get("max_sleep")
        return cls(
            name=name,
            fields=_strings(value.get("fields"), name=f"{name}.fields"),
            omit=_strings(value.get("omit"), name=f"{name}.omit"),
            max_sleep=None if max_sleep is None else float(max_sleep),
            priority=_priority(value.get("priority"), name=f"{name}.priority"),
        )


@dataclass(frozen=True)
class AlertConfig:
    """Where failure alerts go; nothing configured means no alert."""

    webhook_url: str | None = None
    webhook_conn_id: str | None = None
    slack_webhook_conn_id: str | None = None
    slack_conn_id: str | None = None
    slack_channel: str | None = None

    @classmethod
    def from_value(cls, value: Mapping[str, Any] | AlertConfig | None) -> AlertConfig:
        if value is None:
            return cls()
        if isinstance(value, AlertConfig):
            return value
        _check_keys(value, cls, "alerts")
        return cls(**{k: (str(v) if v is not None else None) for k, v in value.items()})


def _resources_default() -> tuple[ResourceConfig, ...]:
    return tuple(ResourceConfig(name) for name in DEFAULT_RESOURCES)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything :func:`build_dag` needs. Defaults suit an hourly production DAG.

    ``max_active_runs=1`` and ``catchup=False``: scheduled windows run in order and a
    new deployment does not replay history by itself; history is loaded with
    ``airflow backfill create`` (windows are independent and resumable, the budget is
    shared, so several backfill runs at once are safe; the pool caps concurrency).
    """

    dag_id: str
    resources: tuple[ResourceConfig, ...] = field(default_factory=_resources_default)
    schedule: timedelta | None = timedelta(hours=1)
    start_date: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    catchup: bool = False
    max_active_runs: int = 1
    max_active_tasks: int = 16
    # True: resources load one after another, in the order listed (parents before
    # children); False: in parallel, sharing the budget.
    sequential: bool = False
    courtlistener_conn_id: str = "courtlistener_default"
    pool: str = API_POOL
    retries: int = 3
    retry_delay: timedelta = timedelta(seconds=30)
    retry_exponential_backoff: float = 2.0
    max_retry_delay: timedelta = timedelta(minutes=30)
    max_sleep: float | None = None  # None: the connection's max_sleep
    # The budget priority class of the DAG's calls (interactive, incremental, backfill);
    # None: backfill in backfill runs, incremental otherwise.
    priority: str | None = None
    sensor: SensorMode = "deferrable"
    sensor_poke_interval: timedelta = timedelta(seconds=60)
    sensor_timeout: timedelta = timedelta(hours=6)
    trigger_poll_interval: timedelta = timedelta(seconds=60)
    # The shortest deferral (see courtflow.airflow.triggers.DEFAULT_MIN_DEFERRAL); 0 is
    # safe only where no scheduler runs (airflow dags test).
    min_deferral: timedelta = timedelta(seconds=15)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    tags: tuple[str, ...] = ("courtlistener", "courtflow")
    description: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.dag_id):
            raise ConfigError(f"dag_id {self.dag_id!r}: use letters, digits, '_', '.', '-'")
        if not self.resources:
            raise ConfigError(f"{self.dag_id}: at least one resource is needed")
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.dag_id}: a resource is listed twice: {names}")
        if self.schedule is not None and self.schedule <= timedelta(0):
            raise ConfigError(f"{self.dag_id}: schedule must be a positive duration")
        if self.sensor not in _SENSOR_MODES:
            raise ConfigError(f"{self.dag_id}: sensor must be one of {_SENSOR_MODES}")
        if self.retries < 0 or self.max_active_runs < 1 or self.max_active_tasks < 1:
            raise ConfigError(f"{self.dag_id}: retries >= 0, max_active_runs/tasks >= 1")
        if not isinstance(self.catchup, bool) or not isinstance(self.sequential, bool):
            raise ConfigError(f"{self.dag_id}: catchup and sequential must be true or false")
        if self.retry_exponential_backoff < 0:
            raise ConfigError(f"{self.dag_id}: retry_exponential_backoff must be >= 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PipelineConfig:
        _check_keys(data, cls, f"DAG {data.get('dag_id')!r}")
        if "dag_id" not in data:
            raise ConfigError("the DAG configuration needs a dag_id")
        values: dict[str, Any] = dict(data)
        for key in ("retry_delay", "max_retry_delay", "sensor_poke_interval", "sensor_timeout",
                    "trigger_poll_interval", "min_deferral"):  # fmt: skip
            if key in values:
                values[key] = parse_duration(values[key], name=key)
        if values.get("schedule") is not None:
            values["schedule"] = parse_duration(values["schedule"], name="schedule")
        if "start_date" in values:
            values["start_date"] = _instant(values["start_date"], name="start_date")
        if "resources" in values:
            resources = values["resources"]
            if isinstance(resources, str):
                resources = _strings(resources, name="resources")
            values["resources"] = tuple(ResourceConfig.from_value(r) for r in resources)
        values["alerts"] = AlertConfig.from_value(values.get("alerts"))
        if "tags" in values:
            values["tags"] = _strings(values["tags"], name="tags")
        for key in ("retries", "max_active_runs", "max_active_tasks"):
            if key in values:
                values[key] = int(values[key])
        if values.get("max_sleep") is not None:
            values["max_sleep"] = float(values["max_sleep"])
        if "priority" in values:
            values["priority"] = _priority(values["priority"], name="priority")
        if "retry_exponential_backoff" in values:
            values["retry_exponential_backoff"] = float(values["retry_exponential_backoff"])
        return cls(**values)
