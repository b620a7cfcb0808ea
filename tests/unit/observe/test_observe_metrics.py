"""ObservedGate and the page/watermark recorders emit exactly the documented metrics."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtflow.catalogue.resources import RESOURCES, metric_name
from courtflow.client.gate import CallReport, PassThroughGate, Ticket
from courtflow.errors import BudgetExhaustedError
from courtflow.observe import metrics as m
from courtflow.observe.metrics import (
    MemorySink,
    ObservedGate,
    record_page,
    record_watermark,
    window_label,
)

METRICS_MD = Path(m.__file__).with_name("METRICS.md")


@dataclass(frozen=True)
class Window:
    rate: str
    used: int
    limit: int
    remaining: int


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class UsageSource:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self) -> list[Window]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("database went away")
        return [Window("5000/hour", self.calls, 5000, 5000 - self.calls),
                Window("150/20s", 1, 150, 149)]  # fmt: skip


class RecordingGate(PassThroughGate):
    def __init__(self, refuse: bool = False) -> None:
        self.reports: list[CallReport] = []
        self.blocks: list[float] = []
        self.refuse = refuse

    def reserve(self, endpoint: str) -> Ticket:
        if self.refuse:
            raise BudgetExhaustedError("no room", available_at=2000.0, wait_seconds=600.0)
        return Ticket(endpoint=endpoint, reserved_at=1000.0, call_id=7)

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.reports.append(report)

    def throttled(self, retry_after: float) -> None:
        self.blocks.append(retry_after)


def make_gate(
    refuse: bool = False,
) -> tuple[ObservedGate, RecordingGate, MemorySink, UsageSource, FakeClock]:
    inner, sink, usage, clock = RecordingGate(refuse), MemorySink(), UsageSource(), FakeClock()
    return ObservedGate(inner, sink, usage=usage, clock=clock), inner, sink, usage, clock


def test_a_successful_call_counts_times_and_gauges_each_window() -> None:
    gate, inner, sink, _, _ = make_gate()
    ticket = gate.reserve("dockets/")
    report = CallReport(status=200, outcome="ok", duration_ms=123.0, bytes=10, attempt=1)
    gate.report(ticket, report)
    assert inner.reports == [report]
    assert sink.counters() == {"courtlistener.calls": 1}
    assert sink.timings("courtlistener.call_latency") == [123.0]
    assert sink.timings("courtlistener.budget.wait") == [0.0]
    assert sink.gauges() == {
        "courtlistener.budget.remaining.5000_per_hour": 4999,
        "courtlistener.budget.remaining.150_per_20s": 149,
    }
    calls = [e for e in sink.emitted if e.name == "courtlistener.calls"]
    assert calls[0].tags == {"endpoint": "dockets/", "outcome": "ok"}


def test_a_429_counts_as_throttled_and_as_an_error_of_its_class() -> None:
    gate, inner, sink, _, _ = make_gate()
    ticket = gate.reserve("clusters/")
    gate.throttled(30.0)
    gate.report(ticket, CallReport(status=429, outcome="throttled", duration_ms=5.0,
                                   error_class="ThrottledError"))  # fmt: skip
    assert inner.blocks == [30.0]
    assert sink.counters() == {
        "courtlistener.calls": 1,
        "courtlistener.throttled": 1,
        "courtlistener.errors.ThrottledError": 1,
    }
    assert sink.gauges()["courtlistener.server_block_seconds"] == 30.0


def test_errors_without_a_class_are_named_by_their_outcome() -> None:
    gate, _, sink, _, _ = make_gate()
    ticket = gate.reserve("dockets/")
    gate.report(ticket, CallReport(status=None, outcome="network", duration_ms=10_000.0))
    gate.report(ticket, CallReport(status=503, outcome="http_error", duration_ms=3.0,
                                   error_class="ServerError"))  # fmt: skip
    counters = sink.counters()
    assert counters["courtlistener.errors.network"] == 1
    assert counters["courtlistener.errors.ServerError"] == 1
    assert "courtlistener.throttled" not in counters


def test_budget_usage_is_queried_at_most_once_per_second() -> None:
    gate, _, sink, usage, clock = make_gate()
    ticket = gate.reserve("dockets/")
    ok = CallReport(status=200, outcome="ok", duration_ms=1.0)
    for _ in range(5):
        gate.report(ticket, ok)
        clock.now += 0.1
    assert usage.calls == 1
    clock.now += 1.0
    gate.report(ticket, ok)
    assert usage.calls == 2
    remaining = [e.value for e in sink.emitted
                 if e.name == "courtlistener.budget.remaining.5000_per_hour"]  # fmt: skip
    assert remaining == [4999, 4998]


def test_a_failing_usage_query_never_breaks_the_call_and_keeps_the_last_values(
    json_logs: io.StringIO,
) -> None:
    gate, inner, sink, usage, clock = make_gate()
    ticket = gate.reserve("dockets/")
    ok = CallReport(status=200, outcome="ok", duration_ms=1.0)
    gate.report(ticket, ok)
    usage.fail = True
    clock.now += 5
    gate.report(ticket, ok)
    assert len(inner.reports) == 2 and sink.counters()["courtlistener.calls"] == 2
    events = [json.loads(x) for x in json_logs.getvalue().splitlines()]
    assert any(e.get("event") == "usage_query_failed" for e in events)
    last_call = [e for e in events if e.get("event") == "call_observed"][-1]
    assert last_call["budget_remaining"] == {"5000_per_hour": 4999, "150_per_20s": 149}


def test_each_call_logs_one_json_line_with_the_budget_left(json_logs: io.StringIO) -> None:
    gate, _, _, _, _ = make_gate()
    ticket = gate.reserve("opinions/")
    gate.report(ticket, CallReport(status=200, outcome="ok", duration_ms=42.0, bytes=512,
                                   attempt=2))  # fmt: skip
    (line,) = [json.loads(x) for x in json_logs.getvalue().splitlines()
               if '"call_observed"' in x]  # fmt: skip
    assert line["logger"] == "courtflow.observe"
    assert {k: line[k] for k in ("endpoint", "status_code", "outcome", "duration_ms", "attempt",
                                  "bytes", "call_id")} == {
        "endpoint": "opinions/", "status_code": 200, "outcome": "ok", "duration_ms": 42.0,
        "attempt": 2, "bytes": 512, "call_id": 7,
    }  # fmt: skip
    assert line["budget_remaining"] == {"5000_per_hour": 4999, "150_per_20s": 149}


def test_a_refused_reservation_is_counted_and_still_raised() -> None:
    gate, _, sink, _, _ = make_gate(refuse=True)
    with pytest.raises(BudgetExhaustedError):
        gate.reserve("dockets/")
    assert sink.counters() == {"courtlistener.budget.exhausted": 1}


def test_without_a_usage_query_no_budget_gauge_is_sent() -> None:
    sink = MemorySink()
    gate = ObservedGate(RecordingGate(), sink)
    gate.report(gate.reserve("dockets/"), CallReport(status=200, outcome="ok", duration_ms=1.0))
    assert sink.gauges() == {}


def test_record_page_counts_rows_and_pages_per_resource_and_times_the_page() -> None:
    sink = MemorySink()
    record_page(sink, "docket-entries", rows=20, seconds=1.5)
    record_page(sink, "docket-entries", rows=0, seconds=0.5)
    assert sink.counters() == {
        "courtlistener.rows_upserted.docket-entries": 20,
        "courtlistener.pages.docket-entries": 2,
    }
    assert sink.timings("courtlistener.page_duration") == [1500.0, 500.0]


def test_record_watermark_gauges_the_lag_and_never_goes_negative() -> None:
    sink = MemorySink()
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert record_watermark(sink, "dockets", now - timedelta(hours=2), now) == 7200.0
    assert record_watermark(sink, "clusters", now + timedelta(minutes=1), now) == 0.0
    assert record_watermark(sink, "people", datetime(2024, 5, 1, 11), now) == 3600.0  # naive = UTC
    assert sink.gauges() == {
        "courtlistener.watermark_lag_seconds.dockets": 7200.0,
        "courtlistener.watermark_lag_seconds.clusters": 0.0,
        "courtlistener.watermark_lag_seconds.people": 3600.0,
    }


@pytest.mark.parametrize(
    ("rate", "label"),
    [("5000/hour", "5000_per_hour"), ("150/20s", "150_per_20s"), ("5/min", "5_per_min"),
     (" 10 / 2 d ", "10_per_2d")],
)  # fmt: skip
def test_window_labels_are_safe_metric_name_parts(rate: str, label: str) -> None:
    assert window_label(rate) == label


def documented_names() -> list[str]:
    rows = [line for line in METRICS_MD.read_text().splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_metrics_md_documents_exactly_the_metrics_the_code_emits() -> None:
    constants = {
        value for name, value in vars(m).items()
        if name.isupper() and isinstance(value, str) and value.startswith("courtlistener.")
    }  # fmt: skip
    parametrised = {m.ERRORS, m.BUDGET_REMAINING, m.ROWS_UPSERTED, m.PAGES, m.WATERMARK_LAG,
                    m.BUDGET_ADMITTED, m.BUDGET_QUEUE_WAIT, m.REJECTED}  # fmt: skip
    expected = {c + (".<x>" if c in parametrised else "") for c in constants}
    documented = {re.sub(r"<[a-z_]+>", "<x>", n) for n in documented_names()}
    assert documented == expected


def test_every_metric_name_fits_statsd_and_opentelemetry_rules() -> None:
    names: list[str] = []
    for template in documented_names():
        name = template.replace("<error_class>", "BadPayloadError")
        name = name.replace("<window>", window_label("5000/hour"))
        name = name.replace("<priority>", "interactive")
        tokens = [metric_name(r) for r in RESOURCES]
        names += [name.replace("<resource>", t) for t in tokens] if "<" in name else [name]
    for name in names:
        wire = f"airflow.{name}"
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", wire), wire
        assert len(wire) <= 63, wire  # OpenTelemetry instrument names
