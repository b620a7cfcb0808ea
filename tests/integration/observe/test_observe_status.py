"""The operator's status view (courtflow.observe.status) on SQLite and PostgreSQL: load
state per resource and scope, the budget per token and window, recent 429s, rejects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bounds import bound
from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.client.gate import CallReport
from courtflow.observe.status import as_jsonable, count_rejects, gather_status
from courtflow.observe.status_text import render_status
from courtflow.store.engine import dispose_engine, make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.state import Checkpoint, record_range, save_checkpoint
from pg_support import scratch_database

KEY = "token:status0000000001"
OTHER = "token:status0000000002"
RATES = parse_rates("3/30s,10/hour")
D = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'status.sqlite'}"
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        dispose_engine(url)
    else:
        pg_url: str = request.getfixturevalue("pg_url")
        with scratch_database("courtflow_status", pg_url) as url:
            eng = make_engine(url)
            upgrade(eng)
            yield eng


def _load_state(engine: Engine) -> None:
    with engine.begin() as conn:
        for day in range(3):  # three finished days of dockets, one range
            save_checkpoint(conn, Checkpoint("dockets", D + timedelta(days=day),
                                             D + timedelta(days=day + 1), None, 2, 35, 2, True),
                            "run-a")  # fmt: skip
            record_range(conn, "dockets", D + timedelta(days=day), D + timedelta(days=day + 1),
                         "run-a")  # fmt: skip
        # A later day finished apart from the range: two loaded ranges.
        save_checkpoint(conn, Checkpoint("dockets", D + timedelta(days=5), D + timedelta(days=6),
                                         None, 1, 7, 1, True), "run-b")  # fmt: skip
        record_range(conn, "dockets", D + timedelta(days=5), D + timedelta(days=6), "run-b")
        # A scope of the same resource, stopped midway with a cursor saved.
        save_checkpoint(conn, Checkpoint("dockets", D, D + timedelta(days=1),
                                         "https://x/api/rest/v4/dockets/?cursor=abc", 4, 80, 5,
                                         False, scope="court=scotus"), "run-c")  # fmt: skip


def _spend(engine: Engine) -> None:
    budget = Budget(engine, KEY, RATES, safety_margin=0.0, max_sleep=0.0, run_id="run-c",
                    task_id="sync.dockets")  # fmt: skip
    for status, outcome in ((200, "ok"), (429, "throttled"), (200, "ok")):
        ticket = budget.reserve("dockets/")
        budget.report(ticket, CallReport(status=status, outcome=outcome, duration_ms=5.0))  # type: ignore[arg-type]
    budget.throttled(120.0)  # a Retry-After every worker must honour
    Budget(engine, OTHER, RATES, safety_margin=0.0).reserve("clusters/")
    hourly = Budget(engine, KEY, RATES, dag_id="hourly", task_id="dockets.sync")
    hourly.book(4, datetime.now(UTC) + timedelta(minutes=30))  # the next scheduled run


def test_status_shows_loads_budget_throttles_and_no_rejects_table(engine: Engine) -> None:
    _load_state(engine)
    _spend(engine)
    now = datetime.now(UTC)
    status = gather_status(engine, RATES, budget_key=KEY, safety_margin=0.0, now=now)

    whole, scoped = status.scopes
    assert (whole.resource, whole.scope, scoped.scope) == ("dockets", "", "court=scotus")
    assert whole.watermark == D + timedelta(days=3)
    assert whole.lag_seconds == pytest.approx((now - whole.watermark).total_seconds())
    assert (whole.completed_windows, whole.completed_pages, whole.completed_rows) == (4, 7, 112)
    assert [(r.start, r.end) for r in whole.loaded] == [
        (D, D + timedelta(days=3)), (D + timedelta(days=5), D + timedelta(days=6))]  # fmt: skip
    assert whole.open_windows == () and whole.rejected == 0
    (stuck,) = scoped.open_windows
    assert (stuck.pages, stuck.rows, stuck.calls, stuck.has_cursor) == (4, 80, 5, True)
    assert stuck.cursor_age_seconds is not None and 0 <= stuck.cursor_age_seconds < 3600
    assert scoped.watermark is None and scoped.label == "dockets?court=scotus"

    (token,) = status.tokens
    assert token.budget_key == KEY
    short, hourly = token.windows
    assert (short.rate, short.used, short.limit, short.remaining) == ("3/30s", 3, 3, 0)
    assert short.wait_seconds > 0 and short.room.startswith("in ")
    assert (hourly.used, hourly.remaining, hourly.room) == (3, 7, "now")
    assert token.blocked_until is not None and "429" in (token.block_reason or "")
    assert status.throttled_24h == 1
    (throttle,) = status.throttles
    assert (throttle.endpoint, throttle.run_id, throttle.task_id) == (
        "dockets/", "run-c", "sync.dockets")  # fmt: skip
    assert status.rejected_total == 0
    # Admissions per priority class (the budget's default class is incremental).
    classes = {c.priority: c for c in token.classes}
    assert list(classes)[:3] == ["interactive", "incremental", "backfill"]
    assert (classes["incremental"].admitted, classes["backfill"].admitted) == (3, 0)
    (booking,) = token.bookings
    assert (booking.priority, booking.need, booking.task_id) == ("incremental", 4, "dockets.sync")

    # Every key when none is named; the JSON and the text carry the same facts.
    every = gather_status(engine, RATES, safety_margin=0.0, now=now)
    assert [t.budget_key for t in every.tokens] == [KEY, OTHER]
    doc = json.loads(json.dumps(as_jsonable(status)))
    assert doc["tokens"][0]["windows"][1]["room"] == "now"
    assert doc["scopes"][1]["open_windows"][0]["rows"] == 80
    text_view = render_status(status)
    assert "dockets?court=scotus" in text_view and "OPEN" in text_view
    assert "BLOCKED until" in text_view and "429s in the last 24 h: 1" in text_view
    assert "class incremental  last hour: admitted 3 (100%)" in text_view
    assert "booked 4 incremental call(s) due " in text_view and "hourly.dockets.sync" in text_view
    assert doc["tokens"][0]["bookings"][0]["need"] == 4


def test_rejects_are_counted_per_scope(engine: Engine) -> None:
    _load_state(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sync_rejects (resource, scope, raw_hash, reason, raw,"
                          " rejected_at) VALUES "
                          "('dockets', '', 'h1', 'bad date', '{}', :t),"
                          " ('dockets', 'court=scotus', 'h2', 'x', '{}', :t),"
                          " ('dockets', '', 'h3', 'no id', '{}', :t),"
                          " ('people', '', 'h4', 'x', '{}', :t)"), {"t": D})  # fmt: skip
        assert count_rejects(conn) == {("dockets", ""): 2, ("dockets", "court=scotus"): 1,
                                       ("people", ""): 1}  # fmt: skip
    status = gather_status(engine, RATES, budget_key=KEY)
    by_label = {s.label: s.rejected for s in status.scopes}
    assert by_label == {"dockets": 2, "dockets?court=scotus": 1, "people": 1}
    assert status.rejected_total == 4
    # The plug point: another rejects store is one function.
    other = gather_status(engine, RATES, budget_key=KEY, rejects=lambda _c: {("dockets", ""): 9})
    assert other.rejected_total == 9


def test_status_command_prints_text_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    eng = make_engine(url)
    upgrade(eng)
    _load_state(eng)
    dispose_engine(url)
    env = {**os.environ, "COURTFLOW_DATABASE_URL": url, "COURTFLOW_RATES": "3/30s,10/hour"}
    env.pop("COURTLISTENER_API_TOKEN", None)
    cli = [sys.executable, "-m", "courtflow.cli", "status"]
    plain = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=bound(60))
    assert plain.returncode == 0, plain.stderr
    assert "dockets?court=scotus" in plain.stdout and "watermark 2024-01-04" in plain.stdout
    as_json = subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True,
                             timeout=bound(60))
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert [s["label"] for s in doc["scopes"]] == ["dockets", "dockets?court=scotus"]
    assert doc["rejected_total"] == 0 and doc["throttled_24h"] == 0
