"""A hand-written TaskFlow DAG that uses courtflow's operator and budget sensor.

``build_dag`` covers the usual pipeline; write your own DAG when the sync is one step
of something larger. The pieces:

- ``BudgetSensor`` waits, without holding a worker or a pool slot, until the call
  budget shared by every DAG using the same token has room;
- ``CourtListenerSyncOperator`` syncs one resource for the run's window (``since`` /
  ``until`` in the run's conf, else the data interval, else a catch-up from the
  watermark), deferring whenever the budget is full; keep it in the API pool;
- its result (XCom) holds the totals of the whole task, over every deferral and
  retry: ``rows``, ``pages``, ``calls``, ``rejected``, ``deferrals``, ``since``,
  ``until``, ``scope``; the same totals ride on the Asset event's ``extra``.

The token, base URL, rates and target database live in the ``courtlistener_default``
connection (see docs/airflow.md); nothing here does I/O when the file is parsed.

    airflow dags test courtlistener_taskflow_example 2024-01-03 \
        -c '{"since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

from courtflow.airflow.dag_factory import API_POOL, asset_for
from courtflow.airflow.operators import CourtListenerSyncOperator
from courtflow.airflow.sensors import BudgetSensor


@dag(
    dag_id="courtlistener_taskflow_example",
    # Daily at 06:00 UTC; a data-interval timetable, so each run syncs the day before.
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["courtlistener", "example"],
    default_args={"owner": "data-eng", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"since": None, "until": None},
)
def courtlistener_taskflow_example() -> None:
    wait = BudgetSensor(task_id="wait_for_budget", courtlistener_conn_id="courtlistener_default")
    dockets = CourtListenerSyncOperator(
        task_id="sync_dockets",
        resource="dockets",
        courtlistener_conn_id="courtlistener_default",
        pool=API_POOL,
        outlets=[asset_for("dockets")],
    )

    @task
    def summarize(result: dict[str, Any]) -> str:
        """Whatever comes next: here, one line from the sync's totals."""
        line = (f"{result['rows']} dockets in {result['pages']} pages, {result['calls']} "
                f"calls, {result['deferrals']} budget deferrals, "
                f"[{result['since']}, {result['until']})")  # fmt: skip
        print(line)
        return line

    wait >> dockets
    summarize(dockets.output)


courtlistener_taskflow_example()
