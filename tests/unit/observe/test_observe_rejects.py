"""Rejected (poison) records in metrics and the report."""

from __future__ import annotations

from datetime import UTC, datetime

from courtflow.observe.metrics import REJECTED, MemorySink, record_rejects
from courtflow.observe.report import ReportData, render_html


def test_rejected_records_are_counted_per_resource_and_nothing_is_sent_for_none() -> None:
    sink = MemorySink()
    record_rejects(sink, "docket-entries", 3)
    record_rejects(sink, "dockets", 0)
    assert sink.counters() == {f"{REJECTED}.docket-entries": 3}


def test_the_report_shows_rejected_records_per_resource() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    data = ReportData(now, None, None, None, [], [], [], None, [], [], [], False,
                      rejects={"dockets": 2, "clusters": 1})  # fmt: skip
    page = render_html(data, [])
    assert 'id="rejected-records"' in page
    assert "<td class='l'>clusters</td><td>1</td>" in page
    assert "<td class='l'>dockets</td><td>2</td>" in page
    empty = render_html(ReportData(now, None, None, None, [], [], [], None, [], [], [], False), [])
    assert "No record has been rejected." in empty
