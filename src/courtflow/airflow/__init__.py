"""The Airflow adapter: the only package in courtflow that imports Airflow."""
