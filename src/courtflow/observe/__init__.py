"""Observability: JSON logs, metrics, the call ledger as history, and an HTML report.

Nothing here imports Airflow; :mod:`courtflow.airflow.metrics` adapts the metrics sink
to Airflow's ``Stats`` and :mod:`courtflow.airflow.logging` routes log fields into
Airflow's task logs.
"""

from __future__ import annotations

from courtflow.observe.logs import (
    JsonFormatter,
    LogContextFilter,
    configure_json_logging,
    current_log_context,
    log_context,
)
from courtflow.observe.metrics import (
    MemorySink,
    MetricsSink,
    NullSink,
    ObservedGate,
    record_page,
    record_watermark,
    window_label,
)

__all__ = [
    "JsonFormatter",
    "LogContextFilter",
    "MemorySink",
    "MetricsSink",
    "NullSink",
    "ObservedGate",
    "configure_json_logging",
    "current_log_context",
    "log_context",
    "record_page",
    "record_watermark",
    "window_label",
]
