"""Build a courtflow DAG from declarative configuration; no I/O at import time.

>>> dag = build_dag("courtlistener_pipeline", resources=["dockets", "clusters"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, TaskGroup

from courtflow.airflow.hooks import DEFAULT_CONN_ID
from courtflow.airflow.operators import CourtListenerSyncOperator
from courtflow.resources import DEFAULT_RESOURCES, get_resources

API_POOL = "courtlistener_api_pool"


def asset_for(resource: str) -> Asset:
    """The Asset a resource's table publishes when one of its windows lands."""
    return Asset(uri=f"courtlistener://{resource}", name=f"courtlistener_{resource}")


def build_dag(
    dag_id: str,
    *,
    resources: Sequence[str] = DEFAULT_RESOURCES,
    schedule: timedelta = timedelta(hours=1),
    start_date: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    courtlistener_conn_id: str = DEFAULT_CONN_ID,
    pool: str = API_POOL,
    catchup: bool = False,
    max_active_runs: int = 1,
    retries: int = 3,
    max_sleep: float = 30.0,
    default_args: dict[str, Any] | None = None,
    tags: Sequence[str] = ("courtlistener", "courtflow"),
) -> DAG:
    """One TaskGroup per resource: sync the run's window page by page, publish an Asset.

    ``schedule`` is a timedelta so that scheduled runs get real data intervals.
    ``max_active_runs=1`` keeps windows in order for watermarks; raise it for backfills.
    """
    specs = get_resources(resources)
    args: dict[str, Any] = {
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "pool": pool,
    }
    args.update(default_args or {})
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=catchup,
        max_active_runs=max_active_runs,
        default_args=args,
        tags=list(tags),
        doc_md=__doc__,
    ) as dag:
        for spec in specs:
            with TaskGroup(group_id=spec.name.replace("-", "_")):
                CourtListenerSyncOperator(
                    task_id="sync",
                    resource=spec.name,
                    courtlistener_conn_id=courtlistener_conn_id,
                    max_sleep=max_sleep,
                    outlets=[asset_for(spec.name)],
                )
    return dag
