"""CourtListener -> target database in hourly windows, under the shared call budget.

Configuration only. The token, base URL, rates and target database live in the Airflow
connection ``courtlistener_default`` (UI, secrets backend or
``AIRFLOW_CONN_COURTLISTENER_DEFAULT``); the pool ``courtlistener_api_pool`` is created
by ``python -m courtflow.airflow.setup``. See docs/airflow.md.
"""

from courtflow.airflow.dag_factory import build_dag

CONFIG = {
    "dag_id": "courtlistener_pipeline",
    "schedule": "1h",  # an interval timetable: every run has a real data interval
    "start_date": "2024-01-01",
    "catchup": False,  # history is loaded with `airflow backfill create`
    "max_active_runs": 1,  # scheduled windows in order
    "resources": [
        "courts",
        "dockets",
        "clusters",
        "opinions",  # default omit: the html_* and xml_harvard bodies
    ],
    "retries": 3,
    "retry_delay": "30s",
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": "30m",
    "sensor": "deferrable",
}

dag = build_dag(CONFIG)
