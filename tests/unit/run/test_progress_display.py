"""The progress display's plain form: counts as they happen, waits and retries at once."""

from __future__ import annotations

import io
import re

from courtflow.client.courtlistener import RetryEvent
from courtflow.client.gate import CallReport, PassThroughGate
from courtflow.run.progress import Progress, open_progress, retry_line
from courtflow.run.summary import Stored


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_count_calls_before_pages_and_tell_waits_and_retries() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress("backfill dockets", total=2, stream=out, live=False, interval=5.0,
                        clock=clock)  # fmt: skip
    progress.start()
    gate = progress.gate(PassThroughGate())
    gate.report(gate.reserve("dockets/"), CallReport(status=200, outcome="ok", duration_ms=1.0))
    assert progress.calls == 1 and progress.pages == 0  # counted when the call returns
    clock.t += 6
    progress.on_page(None, None, Stored(new=15, changed=5))
    progress.on_budget_wait(7.5, "call budget full (10/10s)")
    progress.on_budget_wait(0.2, "call budget full (10/10s)")  # pacing: not news
    progress.on_retry(RetryEvent("dockets/", "https://h/api/rest/v4/dockets/", 1, 5,
                                 "ServerError", "HTTP 502", 1.25))  # fmt: skip
    progress.window_done()
    progress.stop()
    lines = out.getvalue().splitlines()
    assert lines[0] == "backfill dockets: started"
    assert lines[1].startswith("backfill dockets: windows 0/2  pages 1  rows 20  calls 1  ")
    # Each wait also says the instant it ends (a cron log is read later).
    assert re.fullmatch(r"backfill dockets: waiting for the budget: call budget full \(10/10s\); "
                        r"next attempt in 7\.5s \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)",
                        lines[2]), lines[2]  # fmt: skip
    assert lines[3].startswith("backfill dockets: ServerError on https://h/api/rest/v4/dockets/: "
                               "HTTP 502; retry 2/5; next attempt in 1.2s (at ")  # fmt: skip
    assert lines[4].startswith("backfill dockets: windows 1/2  pages 1  rows 20  calls 1  ")
    assert "retries 1" in lines[4] and len(lines) == 5


def test_a_disabled_progress_counts_and_shows_nothing() -> None:
    out = io.StringIO()
    with open_progress("sync dockets", stream=out, live=False, enabled=False) as progress:
        progress.on_page(None, None, Stored(new=3))
    assert out.getvalue() == "" and progress.rows == 3


def test_the_retry_line_for_commands_without_a_display() -> None:
    event = RetryEvent("api-usage/", "http://127.0.0.1:9/api/rest/v4/api-usage/", 2, 5,
                       "NetworkError", "ConnectError: refused", 2.0)  # fmt: skip
    assert retry_line(event) == ("NetworkError on http://127.0.0.1:9/api/rest/v4/api-usage/: "
                                 "ConnectError: refused; retry 3/5 in 2.0s")  # fmt: skip
