"""Airflow's ``Stats`` as a :class:`courtflow.observe.metrics.MetricsSink`.

Whatever Airflow's ``[metrics]`` section selects receives courtflow's metrics: StatsD
(``statsd_on``), DogStatsD (``statsd_datadog_enabled``) or OpenTelemetry (``otel_on``).
Airflow prefixes every name (``statsd_prefix`` / ``otel_prefix``, default ``airflow``),
so ``courtlistener.calls`` goes on the wire as ``airflow.courtlistener.calls``.

    gate = ObservedGate(budget, AirflowStatsSink(), usage=budget.usage)
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

from courtflow.observe.metrics import MetricsSink, Tags, UdpStatsdSink

log = logging.getLogger("courtflow.airflow.metrics")


def ensure_stats_initialized() -> None:
    """Initialise Airflow's Stats from ``[metrics]`` if this process has not done so.

    The task runner initialises it before running a task; other entry points
    (``airflow dags test``, the triggerer in some paths, scripts) may not, and an
    uninitialised Stats drops every metric silently.
    """
    from airflow.sdk._shared.observability.metrics import stats as stats_module
    from airflow.sdk.configuration import conf
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    if getattr(stats_module, "_factory", None) is None:
        stats_module.initialize(
            factory=get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )


def statsd_fallback() -> UdpStatsdSink | None:
    """A plain StatsD sender when ``statsd_on`` is set but the ``statsd`` package is missing.

    Airflow's StatsD backend imports ``statsd`` (the ``apache-airflow[statsd]`` extra);
    without it Airflow logs one error and drops every metric. Sending the same lines
    ourselves keeps courtflow's metrics flowing in that case.
    """
    from airflow.sdk.configuration import conf

    if not conf.getboolean("metrics", "statsd_on", fallback=False):
        return None
    if conf.getboolean("metrics", "statsd_datadog_enabled", fallback=False):
        return None
    if importlib.util.find_spec("statsd") is not None:
        return None
    log.warning(
        "Airflow [metrics] statsd_on is set but the 'statsd' package is not installed; "
        "courtflow sends its own metrics over UDP (install apache-airflow[statsd] for "
        "Airflow's metrics too)",
        extra={"event": "statsd_fallback"},
    )
    return UdpStatsdSink(
        host=conf.get("metrics", "statsd_host", fallback="localhost"),
        port=conf.getint("metrics", "statsd_port", fallback=8125),
        prefix=conf.get("metrics", "statsd_prefix", fallback="airflow"),
    )


def _tags(tags: Tags | None) -> dict[str, Any] | None:
    return {k: str(v) for k, v in tags.items()} if tags else None


class AirflowStatsSink:
    """Sends courtflow metrics through Airflow's configured metrics backend."""

    def __init__(self) -> None:
        from airflow.sdk.observability.stats import Stats

        ensure_stats_initialized()
        self._stats: Any = Stats
        self._fallback: MetricsSink | None = statsd_fallback()

    def incr(self, name: str, count: int = 1, tags: Mapping[str, str] | None = None) -> None:
        if self._fallback is not None:
            self._fallback.incr(name, count, tags)
        else:
            self._stats.incr(name, count, tags=_tags(tags))

    def timing(self, name: str, ms: float, tags: Mapping[str, str] | None = None) -> None:
        if self._fallback is not None:
            self._fallback.timing(name, ms, tags)
        else:
            self._stats.timing(name, ms, tags=_tags(tags))

    def gauge(self, name: str, value: float, tags: Mapping[str, str] | None = None) -> None:
        if self._fallback is not None:
            self._fallback.gauge(name, value, tags)
        else:
            self._stats.gauge(name, value, tags=_tags(tags))
