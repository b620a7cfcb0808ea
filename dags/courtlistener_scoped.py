"""Supreme Court and Ninth Circuit: their dockets, clusters and opinions, in daily windows.

Configuration only, like courtlistener_pipeline.py: each entry is a scope (a resource
plus server-side filters, checked against the catalogue when this file is parsed) with
its own task group ``id``, checkpoints and watermark; rows of both courts land in the
same tables as any other sync of those resources. Filters are the server's own names
(courtflow.catalogue.filtersets); see README "Scoped syncs".
"""

from courtflow.airflow.dag_factory import build_dag

CONFIG = {
    "dag_id": "courtlistener_scoped",
    "schedule": "1d",  # an interval timetable: every run has a real data interval
    "start_date": "2024-01-01",
    "catchup": False,
    "max_active_runs": 1,
    "resources": [
        {"name": "dockets", "id": "dockets_scotus", "filters": {"court": "scotus"}},
        {"name": "dockets", "id": "dockets_ca9", "filters": {"court": "ca9"}},
        {"name": "clusters", "id": "clusters_scotus", "filters": {"docket__court": "scotus"}},
        {"name": "clusters", "id": "clusters_ca9", "filters": {"docket__court": "ca9"}},
        {"name": "opinions", "id": "opinions_scotus",
         "filters": {"cluster__docket__court": "scotus"}},
        {"name": "opinions", "id": "opinions_ca9", "filters": {"cluster__docket__court": "ca9"}},
    ],
    "retries": 3,
    "retry_delay": "30s",
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": "30m",
    "sensor": "deferrable",
}

dag = build_dag(CONFIG)
