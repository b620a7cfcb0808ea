"""Metrics without Airflow: a sink protocol, a gate wrapper that measures every call, and
page/watermark recorders. Names are documented in ``METRICS.md`` beside this file.

Usage::

    gate = ObservedGate(budget, AirflowStatsSink(), usage=budget.usage)
    client = CourtListenerClient(settings, gate=gate)
    ...
    record_page(sink, "dockets", rows=20, seconds=0.8)

Dimensions that matter on a plain StatsD wire (which has no tags) are part of the
dotted name (``courtlistener.errors.ServerError``); the same values are also passed as
tags for backends that keep them (OpenTelemetry, DogStatsD).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, Protocol

from courtflow.catalogue.resources import metric_name
from courtflow.client.gate import CallGate, CallReport, Ticket
from courtflow.errors import BudgetExhaustedError

PREFIX: Final = "courtlistener"
CALLS: Final = "courtlistener.calls"
THROTTLED: Final = "courtlistener.throttled"
ERRORS: Final = "courtlistener.errors"  # .<error_class>
CALL_LATENCY: Final = "courtlistener.call_latency"
BUDGET_REMAINING: Final = "courtlistener.budget.remaining"  # .<window>
BUDGET_WAIT: Final = "courtlistener.budget.wait"
BUDGET_EXHAUSTED: Final = "courtlistener.budget.exhausted"
BUDGET_ADMITTED: Final = "courtlistener.budget.admitted"  # .<priority>
BUDGET_QUEUE_WAIT: Final = "courtlistener.budget.queue_wait"  # .<priority>
SERVER_BLOCK: Final = "courtlistener.server_block_seconds"
ROWS_UPSERTED: Final = "courtlistener.rows_upserted"  # .<resource>
PAGES: Final = "courtlistener.pages"  # .<resource>
PAGE_DURATION: Final = "courtlistener.page_duration"
WATERMARK_LAG: Final = "courtlistener.watermark_lag_seconds"  # .<resource>
REJECTED: Final = "courtlistener.rejected_records"  # .<resource>

Tags = Mapping[str, str]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

log = logging.getLogger("courtflow.observe")


def metric_token(text: str) -> str:
    """One dotted-name component: StatsD and OpenTelemetry accept ``[A-Za-z0-9_-]``."""
    return _UNSAFE.sub("_", text).strip("_") or "unknown"


def window_label(rate: object) -> str:
    """``5000/hour`` -> ``5000_per_hour``; ``150/20s`` -> ``150_per_20s``."""
    return metric_token(re.sub(r"\s+", "", str(rate)).replace("/", "_per_"))


class MetricsSink(Protocol):
    """Where metrics go: Airflow's Stats, a StatsD socket, memory in tests, or nowhere."""

    def incr(self, name: str, count: int = 1, tags: Tags | None = None) -> None: ...

    def timing(self, name: str, ms: float, tags: Tags | None = None) -> None: ...

    def gauge(self, name: str, value: float, tags: Tags | None = None) -> None: ...


class NullSink:
    """Discards everything (the default when no metrics backend is configured)."""

    def incr(self, name: str, count: int = 1, tags: Tags | None = None) -> None:
        return None

    def timing(self, name: str, ms: float, tags: Tags | None = None) -> None:
        return None

    def gauge(self, name: str, value: float, tags: Tags | None = None) -> None:
        return None


@dataclass(frozen=True)
class Emitted:
    kind: Literal["incr", "timing", "gauge"]
    name: str
    value: float
    tags: Mapping[str, str]


class MemorySink:
    """Keeps every emission in order; for tests and for summaries printed by the CLI."""

    def __init__(self) -> None:
        self.emitted: list[Emitted] = []

    def incr(self, name: str, count: int = 1, tags: Tags | None = None) -> None:
        self.emitted.append(Emitted("incr", name, count, dict(tags or {})))

    def timing(self, name: str, ms: float, tags: Tags | None = None) -> None:
        self.emitted.append(Emitted("timing", name, ms, dict(tags or {})))

    def gauge(self, name: str, value: float, tags: Tags | None = None) -> None:
        self.emitted.append(Emitted("gauge", name, value, dict(tags or {})))

    def counters(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for e in self.emitted:
            if e.kind == "incr":
                totals[e.name] = totals.get(e.name, 0) + e.value
        return totals

    def gauges(self) -> dict[str, float]:
        """The last value of each gauge."""
        return {e.name: e.value for e in self.emitted if e.kind == "gauge"}

    def timings(self, name: str) -> list[float]:
        return [e.value for e in self.emitted if e.kind == "timing" and e.name == name]


class UdpStatsdSink:
    """Plain StatsD over UDP for processes outside Airflow (the CLI, scripts).

    Fire-and-forget like StatsD itself: a send error is swallowed, never raised into
    the sync. ``prefix="airflow"`` makes the names match what Airflow's Stats sends.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8125, prefix: str = "") -> None:
        self._address = (host, port)
        self._prefix = f"{prefix}." if prefix else ""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _send(self, packet: str) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendto(packet.encode("ascii"), self._address)

    def incr(self, name: str, count: int = 1, tags: Tags | None = None) -> None:
        self._send(f"{self._prefix}{name}:{count}|c")

    def timing(self, name: str, ms: float, tags: Tags | None = None) -> None:
        self._send(f"{self._prefix}{name}:{ms:.3f}|ms")

    def gauge(self, name: str, value: float, tags: Tags | None = None) -> None:
        # A leading sign means "delta" in StatsD: a negative absolute value needs a reset.
        if value < 0:
            self._send(f"{self._prefix}{name}:0|g\n{self._prefix}{name}:{value:g}|g")
        else:
            self._send(f"{self._prefix}{name}:{value:g}|g")

    def close(self) -> None:
        self._sock.close()


class WindowUsage(Protocol):
    """One window of the budget's ``usage()``: its rate and the calls left in it."""

    @property
    def rate(self) -> object: ...

    @property
    def remaining(self) -> int: ...


UsageQuery = Callable[[], Iterable[WindowUsage]]


class ObservedGate:
    """A :class:`CallGate` that forwards to ``inner`` and measures every call.

    On ``report``: ``courtlistener.calls``, ``.throttled`` (429s), ``.errors.<class>``,
    ``.call_latency``, ``.budget.remaining.<window>`` gauges (``usage`` is queried at most
    once per ``usage_interval`` seconds), and one JSON log line with the budget left.
    A failing usage query is logged and never breaks the call it measures.
    """

    def __init__(
        self,
        inner: CallGate,
        sink: MetricsSink,
        *,
        usage: UsageQuery | None = None,
        usage_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self._sink = sink
        self._usage = usage
        self._usage_interval = usage_interval
        self._clock = clock
        self._usage_at: float | None = None
        self._remaining: dict[str, int] = {}

    def reserve(self, endpoint: str) -> Ticket:
        tags = {"endpoint": endpoint}
        started = self._clock()
        try:
            ticket = self.inner.reserve(endpoint)
        except BudgetExhaustedError:
            self._sink.incr(BUDGET_EXHAUSTED, tags=tags)
            raise
        waited_ms = (self._clock() - started) * 1000.0
        self._sink.timing(BUDGET_WAIT, waited_ms, tags=tags)
        priority = getattr(self.inner, "priority", None)  # the budget's class, if it has one
        if isinstance(priority, str):
            token = metric_token(priority)
            self._sink.incr(f"{BUDGET_ADMITTED}.{token}", tags={**tags, "priority": token})
            self._sink.timing(f"{BUDGET_QUEUE_WAIT}.{token}", waited_ms,
                              tags={**tags, "priority": token})  # fmt: skip
        return ticket

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.inner.report(ticket, report)
        tags = {"endpoint": ticket.endpoint, "outcome": report.outcome}
        self._sink.incr(CALLS, tags=tags)
        self._sink.timing(CALL_LATENCY, report.duration_ms, tags=tags)
        if report.status == 429 or report.outcome == "throttled":
            self._sink.incr(THROTTLED, tags=tags)
        error_class = None
        if report.outcome != "ok":
            error_class = metric_token(report.error_class or report.outcome)
            self._sink.incr(f"{ERRORS}.{error_class}", tags={**tags, "error_class": error_class})
        remaining = self._budget_remaining()
        log.log(
            logging.WARNING if report.status == 429 else logging.INFO,
            "call %s %s in %.0f ms",
            ticket.endpoint,
            report.status if report.status is not None else report.outcome,
            report.duration_ms,
            extra={
                "event": "call_observed",
                "endpoint": ticket.endpoint,
                "call_id": ticket.call_id,
                "status_code": report.status,
                "outcome": report.outcome,
                "error_class": error_class,
                "duration_ms": round(report.duration_ms, 3),
                "attempt": report.attempt,
                "bytes": report.bytes,
                "budget_remaining": remaining,
            },
        )

    def throttled(self, retry_after: float) -> None:
        self.inner.throttled(retry_after)
        self._sink.gauge(SERVER_BLOCK, retry_after)

    def _budget_remaining(self) -> dict[str, int]:
        """Remaining calls per window, refreshed at most once per ``usage_interval``."""
        if self._usage is None:
            return self._remaining
        now = self._clock()
        if self._usage_at is not None and now - self._usage_at < self._usage_interval:
            return self._remaining
        self._usage_at = now
        try:
            fresh = {window_label(w.rate): int(w.remaining) for w in self._usage()}
        except Exception as exc:  # a metrics read must never fail the call it measures
            log.warning(
                "budget usage query failed: %s", type(exc).__name__,
                extra={"event": "usage_query_failed", "error_class": type(exc).__name__},
            )
            return self._remaining
        self._remaining = fresh
        for label, left in fresh.items():
            self._sink.gauge(f"{BUDGET_REMAINING}.{label}", left, tags={"window": label})
        return self._remaining


def record_page(sink: MetricsSink, resource: str, rows: int, seconds: float) -> None:
    """One page of ``resource`` was upserted: ``rows`` rows in ``seconds`` (fetch + write)."""
    token = metric_token(metric_name(resource))
    tags = {"resource": token}
    sink.incr(f"{ROWS_UPSERTED}.{token}", rows, tags=tags)
    sink.incr(f"{PAGES}.{token}", tags=tags)
    sink.timing(PAGE_DURATION, seconds * 1000.0, tags=tags)


def record_rejects(sink: MetricsSink, resource: str, count: int) -> None:
    """``count`` records of ``resource`` were set aside in sync_rejects (poison records)."""
    if count <= 0:
        return
    token = metric_token(metric_name(resource))
    sink.incr(f"{REJECTED}.{token}", count, tags={"resource": token})


def watermark_lag_seconds(watermark: datetime, now: datetime | None = None) -> float:
    """How far ``watermark`` trails ``now`` (never negative; naive values are UTC)."""
    if watermark.tzinfo is None:
        watermark = watermark.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (current - watermark).total_seconds())


def record_watermark(
    sink: MetricsSink, resource: str, watermark: datetime, now: datetime | None = None
) -> float:
    """Gauge how far ``resource``'s watermark trails now; returns the lag in seconds."""
    token = metric_token(metric_name(resource))
    lag = watermark_lag_seconds(watermark, now)
    sink.gauge(f"{WATERMARK_LAG}.{token}", lag, tags={"resource": token})
    return lag
