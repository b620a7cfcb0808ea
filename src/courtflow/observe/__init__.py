"""Observability: JSON logs, metrics, the call ledger as history, and an HTML report.

Nothing here imports Airflow; :mod:`courtflow.airflow.metrics` adapts the metrics sink
to Airflow's ``Stats`` and :mod:`courtflow.airflow.logging` routes log fields into
Airflow's task logs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from courtflow.observe.logs import (
    JsonFormatter,
    LogContextFilter,
    configure_json_logging,
    current_log_context,
    log_context,
)

if TYPE_CHECKING:
    from courtflow.observe.metrics import (
        MemorySink,
        MetricsSink,
        NullSink,
        ObservedGate,
        record_page,
        record_watermark,
        window_label,
    )

# The metrics names load courtflow.observe.metrics (and with it httpx) on first use only:
# `courtflow --help` imports this package for its logs and must start fast.
_LAZY = frozenset(
    {"MemorySink", "MetricsSink", "NullSink", "ObservedGate", "record_page",
     "record_watermark", "window_label"}
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("courtflow.observe.metrics"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
