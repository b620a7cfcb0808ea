"""Search scopes end to end against the sandbox's search/, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from search_support import admitted, engine_of, ids, server_hits, settings_for
from sqlalchemy import func, select, text

from bounds import bound
from courtflow.budget.tables import api_call_ledger
from courtflow.client.gate import CallGate, CallReport, Ticket
from courtflow.run.sync import open_pipeline
from courtflow.sandbox import RunningSandbox
from courtflow.search.run import SearchOptions, SearchRun, run_search
from courtflow.search.scope import SearchScope
from courtflow.store.state import list_checkpoints

SINCE = date(1700, 1, 1)  # fixtures hold an opinion of 1795
UNTIL = date(2030, 1, 1)


def sync(sandbox: RunningSandbox, db: str, scope: SearchScope, run_id: str,
         **options: Any) -> SearchRun:  # fmt: skip
    options.setdefault("since", SINCE)
    with open_pipeline(settings_for(sandbox, db), run_id=run_id) as p:
        return run_search(p, scope, SearchOptions(**options), run_id=run_id)


def ledger_calls(db: str, run_id: str) -> int:
    """Calls the shared budget recorded for a run (what the quota saw)."""
    with engine_of(db).connect() as conn:
        return int(conn.execute(
            select(func.count()).where(api_call_ledger.c.run_id == run_id)
        ).scalar_one())  # fmt: skip


def test_two_overlapping_scopes_synced_at_once_store_each_hit_once_with_both_matches(
    sandbox: RunningSandbox, db_url: str
) -> None:
    a = SearchScope.of("o", "", {"cited_gt": "150"})
    b = SearchScope.of("o", "", {"cited_lt": "350"})
    expected_a = {h["cluster_id"] for h in server_hits(
        sandbox, {"type": "o", "cited_gt": "150"}, "cluster_id")}  # fmt: skip
    expected_b = {h["cluster_id"] for h in server_hits(
        sandbox, {"type": "o", "cited_lt": "350"}, "cluster_id")}  # fmt: skip
    assert expected_a & expected_b and expected_a - expected_b and expected_b - expected_a
    sync(sandbox, db_url, a, "warm-up", until=date(1700, 1, 2))  # migrate once, first
    errors: list[BaseException] = []

    def worker(scope: SearchScope, run_id: str) -> None:
        try:
            sync(sandbox, db_url, scope, run_id, until=UNTIL, max_hits=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a, "scope-a")),
               threading.Thread(target=worker, args=(b, "scope-b"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=bound(300))
    assert not errors, errors
    engine = engine_of(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*), count(DISTINCT id) FROM cl_search_o")).one()
    assert rows[0] == rows[1] == len(expected_a | expected_b)
    assert ids(engine, "SELECT hit_id FROM cl_search_matches WHERE scope = :k", k=a.key) == (
        expected_a
    )
    assert ids(engine, "SELECT hit_id FROM cl_search_matches WHERE scope = :k", k=b.key) == (
        expected_b
    )
    both = ids(engine, "SELECT hit_id FROM cl_search_matches GROUP BY hit_id "
                       "HAVING count(*) = 2")  # fmt: skip
    assert both == expected_a & expected_b


class _Crash(Exception):
    """A worker dying between two pages."""


class _DieAfter:
    """A gate that lets ``n`` calls through, then kills the worker at the next one."""

    def __init__(self, inner: CallGate, n: int) -> None:
        self.inner, self.left = inner, n

    def reserve(self, endpoint: str) -> Ticket:
        if endpoint == "search/":
            if self.left == 0:
                raise _Crash("killed")
            self.left -= 1
        return self.inner.reserve(endpoint)

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.inner.report(ticket, report)

    def throttled(self, retry_after: float) -> None:
        self.inner.throttled(retry_after)


def test_a_killed_walk_resumes_from_the_cursor_of_its_last_page(
    sandbox: RunningSandbox, db_url: str
) -> None:
    scope = SearchScope.of("o", "", {"cited_lt": "400"})
    expected = {h["cluster_id"] for h in server_hits(
        sandbox, {"type": "o", "cited_lt": "400"}, "cluster_id")}  # fmt: skip
    pages = -(-len(expected) // 20)
    assert pages >= 4
    settings = settings_for(sandbox, db_url)
    with (
        open_pipeline(settings, run_id="killed", gate_wrapper=lambda g: _DieAfter(g, 3)) as p,
        pytest.raises(_Crash),
    ):
        run_search(p, scope, SearchOptions(since=SINCE, until=UNTIL), run_id="killed")
    engine = engine_of(db_url)
    with engine.connect() as conn:
        (saved,) = list_checkpoints(conn, "search:o", scope.key)
    assert saved.pages == 3 and not saved.done and saved.next_url is not None
    assert "cursor=" in saved.next_url
    before = admitted(sandbox)
    result = sync(sandbox, db_url, scope, "resumed", until=UNTIL)
    (window,) = result.windows
    assert window.resumed and window.pages == pages - 3
    # Only the pages after the saved cursor were asked for: no page twice.
    assert admitted(sandbox) - before == pages - 3 == ledger_calls(db_url, "resumed")
    assert ids(engine, "SELECT id FROM cl_search_o") == expected


def test_a_rerun_spends_no_call(sandbox: RunningSandbox, db_url: str) -> None:
    scope = SearchScope.of("o", "", {"cited_gt": "250"})
    first = sync(sandbox, db_url, scope, "first", until=UNTIL, max_hits=40)
    assert first.hits > 40 and any(w.split for w in first.windows)
    before = admitted(sandbox)
    again = sync(sandbox, db_url, scope, "again", until=UNTIL, max_hits=40)
    assert again.calls == 0 and ledger_calls(db_url, "again") == 0
    assert admitted(sandbox) == before
    # Catch-up runs: the day's first after the load has nothing new to ask for; the
    # next day's walks its catch-up window once; a second run that day spends 0.
    today = date(2031, 5, 1)
    same_day = sync(sandbox, db_url, scope, "catch-up-0", today=date(2029, 12, 31))
    assert same_day.calls == 0
    sync(sandbox, db_url, scope, "catch-up-1", today=today)
    assert ledger_calls(db_url, "catch-up-1") >= 1
    before = admitted(sandbox)
    second = sync(sandbox, db_url, scope, "catch-up-2", today=today)
    assert second.calls == 0 == ledger_calls(db_url, "catch-up-2")
    assert admitted(sandbox) == before


def test_the_lookback_picks_up_a_late_indexed_hit(sandbox: RunningSandbox, db_url: str) -> None:
    params = {"type": "o", "cited_gt": "300"}
    scope = SearchScope.of("o", "", {"cited_gt": "300"})
    hits = [h for h in server_hits(sandbox, params, "cluster_id") if h["dateFiled"]]
    late = max(hits, key=lambda h: (h["dateFiled"], h["cluster_id"]))
    filed = date.fromisoformat(late["dateFiled"])
    day_one = filed + timedelta(days=10)  # the hit was filed 10 days before the first run
    sandbox.state.data.search.hold("o", [late["cluster_id"]])
    try:
        sync(sandbox, db_url, scope, "day-1", today=day_one, max_hits=60)
    finally:
        sandbox.state.data.search.release("o", [late["cluster_id"]])
    engine = engine_of(db_url)
    assert late["cluster_id"] not in ids(engine, "SELECT id FROM cl_search_o")
    # Indexed late: the next day's catch-up walks back 30 days and finds it.
    result = sync(sandbox, db_url, scope, "day-2", today=day_one + timedelta(days=1))
    assert result.plan.catch_up is not None
    assert result.plan.catch_up.start.date() == day_one + timedelta(days=1) - timedelta(days=30)
    assert late["cluster_id"] in ids(engine, "SELECT id FROM cl_search_o")
    assert late["cluster_id"] in ids(
        engine, "SELECT hit_id FROM cl_search_matches WHERE scope = :k", k=scope.key
    )
    # Without a lookback the same catch-up would have started at the watermark.
    assert filed < day_one + timedelta(days=1)


def test_hydration_stores_exactly_the_records_behind_the_hits(
    sandbox: RunningSandbox, db_url: str
) -> None:
    scope = SearchScope.of("o", "", {"cited_gt": "420"})
    hits = server_hits(sandbox, {"type": "o", "cited_gt": "420"}, "cluster_id")
    clusters = {h["cluster_id"] for h in hits}
    opinions = {o["id"] for h in hits for o in h["opinions"]}
    assert clusters and opinions
    result = sync(sandbox, db_url, scope, "hydrate", until=UNTIL, hydrate=True)
    engine = engine_of(db_url)
    assert ids(engine, "SELECT id FROM cl_clusters") == clusters
    assert ids(engine, "SELECT id FROM cl_opinions") == opinions
    assert result.hydration is not None and not any(result.hydration.not_found.values())
    # Never more than one call per record (ranges only where they are cheaper).
    assert result.hydration.calls <= len(clusters) + len(opinions)
    before = admitted(sandbox)
    again = sync(sandbox, db_url, scope, "hydrate-again", until=UNTIL, hydrate=True)
    assert again.calls == 0 and admitted(sandbox) == before


def test_refresh_older_walks_old_windows_again_and_picks_up_a_moved_index_timestamp(
    sandbox: RunningSandbox, db_url: str
) -> None:
    scope = SearchScope.of("o", "", {"cited_gt": "380"})
    sync(sandbox, db_url, scope, "load", today=date(2026, 1, 1))
    engine = engine_of(db_url)
    with engine.connect() as conn:
        hit_id, stamp = conn.execute(text("SELECT id, indexed_at FROM cl_search_o "
                                          "ORDER BY id LIMIT 1")).one()  # fmt: skip
    sandbox.touch("clusters", [hit_id])  # edited: the server indexes it again
    lazy = sync(sandbox, db_url, scope, "lazy", today=date(2026, 1, 2))
    assert all(w.skipped for w in lazy.windows if w.window != lazy.plan.catch_up)
    # A week later by the checkpoints' clock: the sweep walks the old windows again.
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_checkpoints SET updated_at = :t"),
                     {"t": datetime.now(UTC) - timedelta(days=8)})  # fmt: skip
    swept = sync(sandbox, db_url, scope, "sweep", today=date(2026, 1, 2), refresh_older=True)
    assert swept.plan.refreshed >= 1 and swept.hits > 0
    with engine.connect() as conn:
        moved = conn.execute(text("SELECT indexed_at FROM cl_search_o WHERE id = :i"),
                             {"i": hit_id}).scalar_one()  # fmt: skip
    assert _aware(moved) > _aware(stamp)
    again = sync(sandbox, db_url, scope, "sweep-again", today=date(2026, 1, 2),
                 refresh_older=True)  # fmt: skip
    assert again.calls == 0  # just swept: not due again for a week


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
