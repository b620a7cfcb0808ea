"""The quota view's figures (read from a real ledger in a SQLite file) and its page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtflow.airflow.quota import QuotaView, Waiting, budget_figures, render_html
from courtflow.budget.budget import Budget
from courtflow.client.gate import CallReport
from courtflow.config import Settings
from courtflow.store import record_range
from courtflow.store.engine import dispose_engine, make_engine
from courtflow.store.migrate import upgrade

TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    yield Settings.from_env({"COURTLISTENER_API_TOKEN": TOKEN, "COURTFLOW_DATABASE_URL": url,
                             "COURTFLOW_RATES": "3/min,100/hour"})  # fmt: skip
    dispose_engine(url)


def spend(settings: Settings, dag_id: str, task_id: str, outcomes: list[str]) -> None:
    engine = make_engine(settings.database_url)
    budget = Budget.from_settings(settings, engine, dag_id=dag_id, task_id=task_id, run_id="r1")
    for outcome in outcomes:
        ticket = budget.reserve("dockets")
        status = 429 if outcome == "throttled" else 200
        budget.report(ticket, CallReport(status=status, outcome=outcome, duration_ms=5.0))


def test_every_window_shows_used_limit_remaining_and_when_room_appears(
    settings: Settings,
) -> None:
    upgrade(make_engine(settings.database_url))
    spend(settings, "cl", "dockets.sync", ["ok", "ok"])
    spend(settings, "other", "clusters.sync", ["throttled"])
    figures = budget_figures("courtlistener_default", settings, hours=2, dag_ids={"cl"})
    assert figures.error is None and figures.budget_key == settings.budget_key
    minute, hour = figures.windows
    assert (minute.rate, minute.used, minute.limit, minute.remaining) == ("3/min", 3, 3, 0)
    assert minute.room_at is not None and minute.room_at > datetime.now(UTC)
    assert (hour.rate, hour.used, hour.limit, hour.remaining, hour.room_at) == (
        "100/hour", 3, 100, 97, None)
    assert sum(h.calls for h in figures.hours) == 3 and sum(h.throttled for h in figures.hours) == 1
    # Only the DAGs the user may read.
    assert [(t.dag_id, t.task_id, t.calls) for t in figures.by_task] == [("cl", "dockets.sync", 2)]


def test_watermark_lag_per_resource_and_scope(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    mark = datetime.now(UTC) - timedelta(hours=3)
    with engine.begin() as conn:
        record_range(conn, "dockets", mark - timedelta(days=1), mark, "r1")
        record_range(conn, "dockets", mark - timedelta(days=1), mark - timedelta(hours=1), "r1",
                     scope="court=scotus")
    lags = budget_figures("c", settings).lags
    assert [(lag.resource, lag.scope) for lag in lags] == [("dockets", ""),
                                                         ("dockets", "court=scotus")]
    assert 3 * 3600 - 60 < lags[0].lag_seconds < 3 * 3600 + 60
    assert lags[1].lag_seconds > lags[0].lag_seconds


def test_a_database_that_cannot_be_read_is_reported_without_secrets() -> None:
    url = "postgresql+psycopg://courtflow:s3cr3t-pw@127.0.0.1:1/courtflow"
    bad = Settings.from_env({"COURTLISTENER_API_TOKEN": TOKEN, "COURTFLOW_DATABASE_URL": url})
    figures = budget_figures("cl_prod", bad)
    assert figures.error and figures.windows == ()
    assert "s3cr3t-pw" not in figures.error and TOKEN not in figures.error


def test_the_page_shows_every_figure_escaped_and_never_the_token(settings: Settings) -> None:
    upgrade(make_engine(settings.database_url))
    spend(settings, "cl<script>", "dockets.sync", ["ok"])
    figures = budget_figures("courtlistener_default", settings)
    now = datetime.now(UTC)
    view = QuotaView(generated_at=now, hours=6, budgets=(figures,),
                     waiting=(Waiting("cl", "dockets.sync", "manual__1", now),),
                     deferrals_per_hour=((now.replace(minute=0, second=0, microsecond=0), 4),))
    page = render_html(view)
    for text in ("3/min", "100/hour", "<td class=n>1</td>", "manual__1", "<td class=n>4</td>",
                 "cl&lt;script&gt;"):
        assert text in page, text
    assert "<script>" not in page and TOKEN not in page
    assert TOKEN not in str(view.as_json())
