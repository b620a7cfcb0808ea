"""courtflow: rate-budgeted, idempotent CourtListener ingestion for Apache Airflow 3."""

__version__ = "0.1.0"
