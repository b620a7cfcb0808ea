"""CourtListener -> target database, hourly windows, under the shared call budget."""

from datetime import timedelta

from courtflow.airflow.dag_factory import build_dag

dag = build_dag(
    "courtlistener_pipeline",
    resources=["courts", "dockets", "clusters", "opinions"],
    schedule=timedelta(hours=1),
)
