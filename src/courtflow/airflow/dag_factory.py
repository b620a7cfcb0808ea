"""Build a courtflow DAG from declarative configuration; no I/O at import or parse time.

One TaskGroup per resource::

    wait_for_budget  (BudgetSensor: deferrable, or mode="reschedule"; not in the pool)
        >> sync      (CourtListenerSyncOperator in the API pool; publishes an Asset)

>>> dag = build_dag({"dag_id": "courtlistener", "resources": ["dockets"]})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from itertools import pairwise
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    Param,
    TaskGroup,
)

from courtflow.airflow.dag_config import (
    API_POOL,
    PipelineConfig,
    ResourceConfig,
    SearchConfig,
)
from courtflow.airflow.notifications import failure_notifiers
from courtflow.airflow.operators import CourtListenerSyncOperator
from courtflow.airflow.search_operator import CourtListenerSearchOperator
from courtflow.airflow.sensors import BudgetSensor
from courtflow.catalogue.scope import Scope
from courtflow.errors import ConfigError

__all__ = ["API_POOL", "asset_for", "audit_dag_id", "build_audit_dags", "build_dag",
           "timetable_for"]

_DOC = """\
### CourtListener -> target database

Each resource syncs this run's window `[since, until)` of `date_modified` page by page
under the call budget shared by every DAG that uses the same token, then publishes the
Asset `courtlistener://<resource>` for downstream DAGs.

Window: `since`/`until` in the run's conf (a backfill of any range); otherwise the
scheduled data interval; a manual run without conf catches up from the watermark.
"""


_AUDIT_DOC = """\
### Audit: the mirror against the server

One `count=on` call per day or month window, from the oldest stored row to the
watermark, compared with the stored live rows; drifted windows are re-walked, missing
rows stored, and rows the server no longer has (404/410 on their own URL) marked
`deleted_at`. Nothing is removed. See `courtflow audit --help`.
"""


def asset_for(resource: str) -> Asset:
    """The Asset a resource's table publishes when one of its windows lands."""
    return Asset(uri=f"courtlistener://{resource}", name=f"courtlistener_{resource}")


def build_dag(config: PipelineConfig | Mapping[str, Any] | str, **overrides: Any) -> DAG:
    """The DAG ``config`` describes (a :class:`PipelineConfig`, a mapping, or a dag_id
    with the other settings as keyword arguments)."""
    cfg = _config(config, overrides)
    try:
        dag = _build(cfg)
        build_audit_dags(cfg)  # registered with Airflow as they are built
        return dag
    except ConfigError:
        raise
    except Exception as exc:
        # Airflow refused a value the configuration let through (a default_args entry,
        # most likely): still one ConfigError, at import, naming the DAG.
        raise ConfigError(f"DAG {cfg.dag_id!r}: {type(exc).__name__}: {exc}") from None


def timetable_for(cfg: PipelineConfig) -> Any:
    """The timetable of ``cfg.schedule``: both kinds give every run a real data interval.

    Explicit, because Airflow 3 turns a bare timedelta into a ``DeltaTriggerTimetable``
    and a cron string into a ``CronTriggerTimetable`` (``[scheduler]
    create_cron_data_intervals = False``), whose runs have an empty data interval and
    would sync nothing.
    """
    return _timetable(cfg.schedule, cfg.timezone)


def _timetable(schedule: timedelta | str | None, timezone: str) -> Any:
    if schedule is None:
        return None
    if isinstance(schedule, timedelta):
        return DeltaDataIntervalTimetable(schedule)
    return CronDataIntervalTimetable(schedule, timezone=timezone)


def audit_dag_id(cfg: PipelineConfig, resource: ResourceConfig) -> str:
    return f"{cfg.dag_id}__audit_{resource.group_id}"


def build_audit_dags(config: PipelineConfig | Mapping[str, Any]) -> list[DAG]:
    """One DAG per resource with an ``audit`` schedule: a single audit task that counts
    per window against the server and repairs drift (courtflow.airflow.audit).

    ``build_dag`` builds them too: a DAG made in a DAG file is registered with Airflow
    whether or not the file keeps a name for it.
    """
    from courtflow.airflow.audit import CourtListenerAuditOperator

    cfg = config if isinstance(config, PipelineConfig) else _config(config, {})
    dags = []
    for resource in cfg.resources:
        if resource.audit is None:
            continue
        with DAG(
            dag_id=audit_dag_id(cfg, resource),
            description=f"audit of {resource.name} against the server",
            schedule=_timetable(resource.audit, cfg.timezone),
            start_date=cfg.start_date,
            catchup=False,
            max_active_runs=1,
            default_args=_default_args(cfg),
            tags=[*cfg.tags, "audit"],
            doc_md=_AUDIT_DOC,
        ) as dag:
            CourtListenerAuditOperator(
                task_id="audit",
                resource=resource.name,
                filters=dict(resource.filters) or None,
                courtlistener_conn_id=cfg.courtlistener_conn_id,
                priority=resource.priority or cfg.priority,
                max_sleep=resource.max_sleep if resource.max_sleep is not None else cfg.max_sleep,
                pool=cfg.pool,
            )
        dags.append(dag)
    return dags


def _default_args(cfg: PipelineConfig) -> dict[str, Any]:
    default_args: dict[str, Any] = {
        **cfg.default_args,
        "retries": cfg.retries,
        "retry_delay": cfg.retry_delay,
        "retry_exponential_backoff": cfg.retry_exponential_backoff,
        "max_retry_delay": cfg.max_retry_delay,
    }
    if cfg.owner:
        default_args["owner"] = cfg.owner
    if cfg.queue:
        default_args["queue"] = cfg.queue
    notifiers = failure_notifiers(
        webhook_url=cfg.alerts.webhook_url,
        webhook_conn_id=cfg.alerts.webhook_conn_id,
        slack_webhook_conn_id=cfg.alerts.slack_webhook_conn_id,
        slack_conn_id=cfg.alerts.slack_conn_id,
        slack_channel=cfg.alerts.slack_channel,
        email=cfg.alerts.email,
        smtp_conn_id=cfg.alerts.smtp_conn_id,
        email_from=cfg.alerts.email_from,
    )
    if notifiers:
        # A callback passed through default_args runs too, before courtflow's alerts.
        own = default_args.get("on_failure_callback")
        theirs = [] if own is None else list(own) if isinstance(own, (list, tuple)) else [own]
        default_args["on_failure_callback"] = [*theirs, *notifiers]
    return default_args


def _build(cfg: PipelineConfig) -> DAG:
    doc = f"{cfg.doc_md.rstrip()}\n\n---\n\n{_DOC}" if cfg.doc_md else _DOC
    with DAG(
        dag_id=cfg.dag_id,
        description=cfg.description,
        schedule=timetable_for(cfg),
        start_date=cfg.start_date,
        catchup=cfg.catchup,
        max_active_runs=cfg.max_active_runs,
        max_active_tasks=cfg.max_active_tasks,
        default_args=_default_args(cfg),
        tags=list(cfg.tags),
        doc_md=doc,
        params={
            "since": Param(None, type=["null", "string"], description="window start (ISO 8601)"),
            "until": Param(None, type=["null", "string"], description="window end (ISO 8601)"),
        },
    ) as dag:
        groups = [_resource_group(cfg, resource) for resource in cfg.resources]
        groups += [_search_group(cfg, search) for search in cfg.searches]
        if cfg.sequential:
            for before, after in pairwise(groups):
                before >> after
    return dag


def _resource_group(cfg: PipelineConfig, resource: ResourceConfig) -> TaskGroup:
    with TaskGroup(group_id=resource.group_id) as group:
        sync = CourtListenerSyncOperator(
            task_id="sync",
            resource=resource.name,
            courtlistener_conn_id=cfg.courtlistener_conn_id,
            fields=resource.fields or None,
            omit=resource.omit or None,
            filters=Scope(resource.name, resource.filters).mapping() or None,
            max_sleep=resource.max_sleep if resource.max_sleep is not None else cfg.max_sleep,
            poll_interval=cfg.trigger_poll_interval.total_seconds(),
            min_deferral=cfg.min_deferral.total_seconds(),
            priority=resource.priority or cfg.priority,
            book_next=cfg.book_next,
            pool=cfg.pool,
            outlets=[asset_for(resource.name)],
        )
        if cfg.sensor != "none":
            _budget_sensor(cfg, resource.priority or cfg.priority) >> sync
    return group


def _budget_sensor(cfg: PipelineConfig, priority: str | None) -> Any:
    """The group's wait_for_budget task, as the DAG's ``sensor`` setting asks."""
    return BudgetSensor(
        task_id="wait_for_budget",
        courtlistener_conn_id=cfg.courtlistener_conn_id,
        mode="reschedule" if cfg.sensor == "reschedule" else "poke",
        deferrable=cfg.sensor == "deferrable",
        poke_interval=cfg.sensor_poke_interval,
        timeout=cfg.sensor_timeout,
        min_deferral=cfg.min_deferral.total_seconds(),
        priority=priority,
    )


def _search_group(cfg: PipelineConfig, search: SearchConfig) -> TaskGroup:
    """A search scope: wait_for_budget >> search (courtflow.airflow.search_operator)."""
    with TaskGroup(group_id=search.group_id) as group:
        task = CourtListenerSearchOperator(
            task_id="search", search_type=search.type, q=search.q,
            filters=dict(search.filters), since=search.since, until=search.until,
            lookback=search.lookback, refresh_older=search.refresh_older,
            hydrate=search.hydrate, max_window_hits=search.max_window_hits,
            courtlistener_conn_id=cfg.courtlistener_conn_id, max_sleep=cfg.max_sleep,
            poll_interval=cfg.trigger_poll_interval.total_seconds(),
            min_deferral=cfg.min_deferral.total_seconds(),
            priority=search.priority or cfg.priority, pool=cfg.pool,
            outlets=[asset_for(f"search_{search.type}")],
        )  # fmt: skip
        if cfg.sensor != "none":
            _budget_sensor(cfg, search.priority or cfg.priority) >> task
    return group


def _config(
    config: PipelineConfig | Mapping[str, Any] | str, overrides: Mapping[str, Any]
) -> PipelineConfig:
    if isinstance(config, PipelineConfig):
        if not overrides:
            return config
        config = _as_mapping(config)
    elif isinstance(config, str):
        config = {"dag_id": config}
    return PipelineConfig.from_mapping({**config, **overrides})


def _as_mapping(cfg: PipelineConfig) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
