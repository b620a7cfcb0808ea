"""The declarative configuration of one courtflow DAG: values only, validated when built.

A DAG file is a plain mapping handed to :func:`~courtflow.airflow.dag_factory.build_dag`::

    CONFIG = {
        "dag_id": "courtlistener_pipeline",
        "schedule": "1h",                       # or "0 6 * * *", "@daily": real data intervals
        "resources": ["courts", {"name": "dockets", "omit": ["original_court_info"]}],
        "retries": 3, "retry_delay": "30s", "owner": "data-eng", "queue": "courtlistener",
        "alerts": {"webhook_url": "https://alerts.example/hook", "email": ["oncall@example.org"]},
    }

Durations are seconds (a number), ``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` or a
``timedelta``; dates are ISO 8601 strings or aware datetimes. Unknown keys are
errors, so a typo never silently falls back to a default; every mistake is one
:class:`~courtflow.errors.ConfigError` naming the key, raised when the DAG file is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from courtflow.catalogue.resources import DEFAULT_RESOURCES, get_resource
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import parse_instant
from courtflow.errors import ConfigError

API_POOL = "courtlistener_api_pool"
SensorMode = Literal["deferrable", "reschedule", "none"]
_SENSOR_MODES: tuple[str, ...] = ("deferrable", "reschedule", "none")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Airflow's cron presets that describe a repeating interval (``@once`` and
# ``@continuous`` have no data interval to sync).
CRON_PRESETS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
                          "@annually"})  # fmt: skip
# default_args keys the configuration sets itself: one place for each setting.
MANAGED_DEFAULT_ARGS = frozenset({
    "owner", "queue", "pool", "retries", "retry_delay", "retry_exponential_backoff",
    "max_retry_delay", "email", "email_on_failure", "email_on_retry",
})  # fmt: skip
# default_args that Airflow wants as a timedelta: accepted as durations too.
_DURATION_DEFAULT_ARGS = ("execution_timeout",)


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


def _integer(value: Any, *, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if not number.is_integer():
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    return int(number)


def _number(value: Any, *, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None


def _text(value: Any, *, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a non-empty string, got {value!r}")
    return value.strip()


def parse_schedule(value: Any, *, name: str = "schedule") -> timedelta | str | None:
    """A duration (an interval timetable), a cron expression or a preset, or None.

    Cron expressions and presets are checked for shape here; Airflow's own parser checks
    them again when the DAG is built (``CronDataIntervalTimetable``).
    """
    if value is None:
        return None
    if isinstance(value, str) and not _DURATION.match(value):
        text = " ".join(value.split())
        if text.startswith("@"):
            if text not in CRON_PRESETS:
                presets = sorted(CRON_PRESETS)
                raise ConfigError(f"{name}: {value!r} is not an interval preset; use one of "
                                  f"{presets}, a cron expression or a duration")  # fmt: skip
            return text
        if len(text.split(" ")) != 5:
            raise ConfigError(f"{name}: {value!r} is neither a duration ('1h') nor a cron "
                              "expression of five fields ('0 6 * * *')")  # fmt: skip
        _check_cron(text, name=name)
        return text
    delta = parse_duration(value, name=name)
    if delta <= timedelta(0):
        raise ConfigError(f"{name} must be a positive duration, got {value!r}")
    return delta


def _check_cron(expression: str, *, name: str) -> None:
    """Airflow's own check (``croniter``, which Airflow's cron timetables use)."""
    from croniter import (  # type: ignore[import-untyped]
        CroniterBadCronError,
        CroniterBadDateError,
        croniter,
    )

    try:
        croniter(expression)
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise ConfigError(f"{name}: {expression!r} is not a valid cron expression: {exc}"
                          ) from None  # fmt: skip


def _timezone(value: Any, *, name: str) -> str:
    from zoneinfo import ZoneInfo

    text = _text(value, name=name)
    try:
        ZoneInfo(text)
    except (ValueError, KeyError, OSError):
        raise ConfigError(f"{name}: unknown time zone {value!r} (an IANA name such as "
                          "'UTC' or 'America/New_York')") from None  # fmt: skip
    return text


def _default_args(value: Any, *, name: str = "default_args") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{name}: expected a mapping of operator arguments, got {value!r}")
    managed = sorted(MANAGED_DEFAULT_ARGS & set(value))
    if managed:
        raise ConfigError(f"{name}: {managed} are set by the top-level key(s) of the same "
                          "name (e-mail: alerts.email); set them there")  # fmt: skip
    args = dict(value)
    for key in _DURATION_DEFAULT_ARGS:
        if args.get(key) is not None:
            args[key] = parse_duration(args[key], name=f"{name}.{key}")
    return args
def _priority(value: Any, *, name: str) -> str | None:
    from courtflow.budget.priorities import parse_priority

    return None if value is None else parse_priority(str(value), name=name)


def _check_keys(data: Mapping[str, Any], cls: type, what: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what}: expected a mapping, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")


@dataclass(frozen=True)
class ResourceConfig:
    """One resource (or scope of one) in the DAG: its filters and fields."""

    name: str
    fields: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    max_sleep: float | None = None  # overrides the DAG's for this resource
    # Server-side filters of the scope (courtflow.catalogue.filters), checked at DAG import;
    # sorted (name, value) pairs, one per value of a filter taking several (a list here:
    # ``type: [010combined, 020lead]``, sent as repeated parameters).
    filters: tuple[tuple[str, str], ...] = ()
    # Task group id; needed when one resource appears twice with different filters.
    id: str | None = None
    priority: str | None = None  # budget class; overrides the DAG's for this resource
    # A schedule ("7d", "@weekly", cron) for an audit DAG of this resource: counts per
    # window against the server, drifted windows repaired (courtflow.airflow.audit).
    audit: timedelta | str | None = None

    @property
    def group_id(self) -> str:
        return self.id or self.name.replace("-", "_")

    @classmethod
    def from_value(cls, value: str | Mapping[str, Any] | ResourceConfig) -> ResourceConfig:
        if isinstance(value, ResourceConfig):
            return value
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping):
            raise ConfigError(f"resources: expected a name or a mapping, got {value!r}")
        _check_keys(value, cls, f"resource {value.get('name')!r}")
        name = str(value.get("name", "")).strip()
        spec = get_resource(name)  # ConfigError naming the known resources
        max_sleep = value.get("max_sleep")
        filters = value.get("filters") or {}
        if not isinstance(filters, Mapping):
            raise ConfigError(
                f"{name}.filters: expected a mapping of filter to value (a list of values "
                "for a filter taking several)"
            )
        group = value.get("id")
        if group is not None and not re.fullmatch(r"[A-Za-z0-9_]+", str(group)):
            raise ConfigError(f"{name}.id {group!r}: use letters, digits and '_'")
        return cls(
            name=name,
            filters=Scope.of(spec, filters).filters,
            id=None if group is None else str(group),
            fields=_strings(value.get("fields"), name=f"{name}.fields"),
            omit=_strings(value.get("omit"), name=f"{name}.omit"),
            max_sleep=None if max_sleep is None else parse_duration(
                max_sleep, name=f"{name}.max_sleep").total_seconds(),
            priority=_priority(value.get("priority"), name=f"{name}.priority"),
            audit=parse_schedule(value.get("audit"), name=f"{name}.audit"),
        )  # fmt: skip


@dataclass(frozen=True)
class SearchConfig:
    """A search-defined scope in the DAG (courtflow.search), from a resources entry
    ``{"search": {"type": "o", "q": "...", "filters": {...}, "since": "2015-01-01"}}``.

    Keys: ``type``, ``q``, ``filters`` (the search form's fields), ``since``/``until``
    (days), ``lookback`` (duration, default 30d), ``refresh_older``, ``hydrate``,
    ``max_window_hits``, ``id`` (task group id), ``priority``. Checked at DAG import.
    """

    type: str
    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    since: str | None = None
    until: str | None = None
    lookback: timedelta = timedelta(days=30)
    refresh_older: bool = False
    hydrate: bool = False
    max_window_hits: int = 1000
    id: str | None = None
    priority: str | None = None

    @property
    def group_id(self) -> str:
        if self.id:
            return self.id
        import hashlib

        digest = hashlib.sha256(self.scope.key.encode("utf-8")).hexdigest()[:8]
        return f"search_{self.type}_{digest}"

    @property
    def scope(self) -> Any:
        from courtflow.search.scope import SearchScope

        return SearchScope(self.type, self.q, self.filters)

    @classmethod
    def from_value(cls, value: Any) -> SearchConfig:
        from courtflow.search.scope import SearchScope

        if isinstance(value, SearchConfig):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"search: expected a mapping, got {value!r}")
        _check_keys(value, cls, f"search {value.get('type')!r}")
        filters = value.get("filters") or {}
        if not isinstance(filters, Mapping):
            raise ConfigError("search.filters: expected a mapping of form field to value")
        scope = SearchScope.of(str(value.get("type", "")), str(value.get("q") or ""), filters)
        days = {}
        for key in ("since", "until"):
            raw = value.get(key)
            if raw is not None:
                try:
                    days[key] = datetime.fromisoformat(str(raw)[:10]).date().isoformat()
                except ValueError:
                    raise ConfigError(f"search.{key}: expected a day YYYY-MM-DD, got {raw!r}") \
                        from None
        if "since" not in days and scope.kind.date_filter is not None:
            raise ConfigError(f"search {scope.label}: 'since' (the first day) is required")
        group = value.get("id")
        if group is not None and not re.fullmatch(r"[A-Za-z0-9_]+", str(group)):
            raise ConfigError(f"search.id {group!r}: use letters, digits and '_'")
        for key in ("refresh_older", "hydrate"):
            if not isinstance(value.get(key, False), bool):
                raise ConfigError(f"search.{key} must be true or false")
        hits = _integer(value.get("max_window_hits", 1000), name="search.max_window_hits")
        if hits < 20:
            raise ConfigError("search.max_window_hits must be at least 20 (one page)")
        return cls(
            type=scope.type, q=scope.q, filters=scope.filters, since=days.get("since"),
            until=days.get("until"),
            lookback=parse_duration(value.get("lookback", "30d"), name="search.lookback"),
            refresh_older=bool(value.get("refresh_older", False)),
            hydrate=bool(value.get("hydrate", False)), max_window_hits=hits,
            id=None if group is None else str(group),
            priority=_priority(value.get("priority"), name="search.priority"),
        )  # fmt: skip


@dataclass(frozen=True)
class AlertConfig:
    """Where failure alerts go; nothing configured means no alert.

    ``email`` (addresses) goes through the SMTP provider's notifier with the
    ``smtp_conn_id`` connection (default: Airflow's ``[email] email_conn_id``).
    """

    webhook_url: str | None = None
    webhook_conn_id: str | None = None
    slack_webhook_conn_id: str | None = None
    slack_conn_id: str | None = None
    slack_channel: str | None = None
    email: tuple[str, ...] = ()
    smtp_conn_id: str | None = None
    email_from: str | None = None

    @classmethod
    def from_value(cls, value: Mapping[str, Any] | AlertConfig | None) -> AlertConfig:
        if value is None:
            return cls()
        if isinstance(value, AlertConfig):
            return value
        _check_keys(value, cls, "alerts")
        values: dict[str, Any] = {}
        for key, item in value.items():
            if key == "email":
                values[key] = _strings(item, name="alerts.email")
                bad = [a for a in values[key] if "@" not in a]
                if bad:
                    raise ConfigError(f"alerts.email: not e-mail addresses: {bad}")
            else:
                values[key] = None if item is None else _text(item, name=f"alerts.{key}")
        return cls(**values)


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
    # Search-defined scopes, given as {"search": {...}} entries of ``resources``.
    searches: tuple[SearchConfig, ...] = ()
    # A duration: DeltaDataIntervalTimetable; a cron expression or preset:
    # CronDataIntervalTimetable in ``timezone``. Both give runs real data intervals.
    schedule: timedelta | str | None = timedelta(hours=1)
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
    # A scheduled run books its calls for the next run (courtflow.budget.bookings), so
    # a backfill on the same token leaves it room to start at once.
    book_next: bool = True
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
    timezone: str = "UTC"  # of cron schedules (and of naive start dates: none allowed)
    owner: str | None = None  # None: Airflow's default owner
    queue: str | None = None  # every task's executor queue (Celery); None: the default
    doc_md: str | None = None  # shown in the UI above courtflow's own description
    # Any other operator argument for every task (execution_timeout, sla_miss..., ...).
    default_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.dag_id):
            raise ConfigError(f"dag_id {self.dag_id!r}: use letters, digits, '_', '.', '-'")
        if not self.resources and not self.searches:
            raise ConfigError(f"{self.dag_id}: at least one resource is needed")
        names = [r.group_id for r in self.resources] + [s.group_id for s in self.searches]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"{self.dag_id}: a resource is listed twice: {names} "
                "(give scopes of one resource distinct 'id's)"
            )
        if isinstance(self.schedule, timedelta) and self.schedule <= timedelta(0):
            raise ConfigError(f"{self.dag_id}: schedule must be a positive duration")
        if self.sensor not in _SENSOR_MODES:
            raise ConfigError(f"{self.dag_id}: sensor must be one of {_SENSOR_MODES}")
        if self.retries < 0:
            raise ConfigError(f"{self.dag_id}: retries must be >= 0, got {self.retries}")
        for key in ("max_active_runs", "max_active_tasks"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{self.dag_id}: {key} must be >= 1, got {getattr(self, key)}")
        for key in ("catchup", "sequential", "book_next"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{self.dag_id}: {key} must be true or false, "
                                  f"got {getattr(self, key)!r}")  # fmt: skip
        if self.retry_exponential_backoff < 0:
            raise ConfigError(f"{self.dag_id}: retry_exponential_backoff must be >= 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PipelineConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"the DAG configuration must be a mapping, got {data!r}")
        _check_keys(data, cls, f"DAG {data.get('dag_id')!r}")
        if "dag_id" not in data:
            raise ConfigError("the DAG configuration needs a dag_id")
        if not isinstance(data["dag_id"], str):
            raise ConfigError(f"dag_id: expected a string, got {data['dag_id']!r}")
        values: dict[str, Any] = dict(data)
        for key in ("retry_delay", "max_retry_delay", "sensor_poke_interval", "sensor_timeout",
                    "trigger_poll_interval", "min_deferral"):  # fmt: skip
            if key in values:
                values[key] = parse_duration(values[key], name=key)
        if "schedule" in values:
            values["schedule"] = parse_schedule(values["schedule"])
        if "timezone" in values:
            values["timezone"] = _timezone(values["timezone"], name="timezone")
        for key in ("owner", "queue", "doc_md", "description", "pool", "courtlistener_conn_id"):
            if values.get(key) is not None:
                values[key] = _text(values[key], name=key)
        if "default_args" in values:
            values["default_args"] = _default_args(values["default_args"])
        if "start_date" in values:
            values["start_date"] = _instant(values["start_date"], name="start_date")
        if "resources" in values:
            resources = values["resources"]
            if isinstance(resources, str):
                resources = _strings(resources, name="resources")
            searches = [r["search"] for r in resources if isinstance(r, Mapping) and "search" in r]
            for r in resources:
                if isinstance(r, Mapping) and "search" in r and set(r) != {"search"}:
                    raise ConfigError(f"resources: a search entry is {{'search': {{...}}}} "
                                      f"alone, got keys {sorted(r)}")  # fmt: skip
            values["resources"] = tuple(ResourceConfig.from_value(r) for r in resources
                                        if not (isinstance(r, Mapping) and "search" in r))
            values["searches"] = tuple(SearchConfig.from_value(s) for s in
                                       (*values.get("searches", ()), *searches))  # fmt: skip
        elif "searches" in values:
            values["searches"] = tuple(SearchConfig.from_value(s) for s in values["searches"])
        values["alerts"] = AlertConfig.from_value(values.get("alerts"))
        if "tags" in values:
            values["tags"] = _strings(values["tags"], name="tags")
        for key in ("retries", "max_active_runs", "max_active_tasks"):
            if key in values:
                values[key] = _integer(values[key], name=key)
        if values.get("max_sleep") is not None:
            values["max_sleep"] = parse_duration(values["max_sleep"], name="max_sleep"
                                                 ).total_seconds()  # fmt: skip
        if "priority" in values:
            values["priority"] = _priority(values["priority"], name="priority")
        if "retry_exponential_backoff" in values:
            key = "retry_exponential_backoff"
            values[key] = _number(values[key], name=key)
        return cls(**values)
