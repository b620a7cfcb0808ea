"""History queries over a realistic ledger agree with a recount in Python, on both databases."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from observe_ledger import (
    END,
    KEY,
    OTHER_KEY,
    RATES,
    ROWS,
    RUNS,
    WATERMARK_AGE,
    LedgerDb,
    LedgerRow,
)
from sqlalchemy import create_engine, text

from courtflow.errors import ConfigError
from courtflow.observe import history as h
from courtflow.observe.metrics import MemorySink
from courtflow.observe.views import VIEW_NAMES, create_views

MINE = h.Filter(KEY)


def ours(rows: list[LedgerRow]) -> list[LedgerRow]:
    return [r for r in rows if r.budget_key == KEY]


def is_error(r: LedgerRow) -> bool:
    return r.outcome not in ("ok", "reserved", "external")


def test_summary_counts_each_class_of_row_for_one_budget_key(ledger: LedgerDb) -> None:
    engine, rows = ledger
    mine = ours(rows)
    s = h.summary(engine, MINE)
    assert s.calls == sum(r.outcome != "external" for r in mine)
    assert s.external == sum(r.outcome == "external" for r in mine)
    assert s.throttled == sum(r.status == 429 for r in mine) > 0
    assert s.errors == sum(is_error(r) for r in mine) > s.throttled
    assert s.retries == sum(r.attempt > 1 for r in mine) > 0
    assert s.in_flight == 1
    assert (s.first, s.last) == (min(r.reserved_at for r in mine), max(r.reserved_at for r in mine))
    assert h.summary(engine, h.Filter(OTHER_KEY)).calls == 50


def test_calls_per_hour_buckets_by_utc_hour(ledger: LedgerDb) -> None:
    engine, rows = ledger
    expected: dict[datetime, Counter[str]] = defaultdict(Counter)
    for r in ours(rows):
        bucket = expected[r.reserved_at.replace(minute=0, second=0, microsecond=0)]
        bucket["external" if r.outcome == "external" else "calls"] += 1
        bucket["throttled"] += r.status == 429
        bucket["retries"] += r.attempt > 1
        bucket["errors"] += is_error(r)
    hours = h.calls_per_hour(engine, MINE)
    assert [x.hour for x in hours] == sorted(expected)
    for x in hours:
        e = expected[x.hour]
        assert (x.calls, x.external, x.throttled, x.retries, x.errors) == (
            e["calls"], e["external"], e["throttled"], e["retries"], e["errors"])  # fmt: skip


def test_hour_buckets_are_utc_whatever_the_session_time_zone(pg_ledger: LedgerDb) -> None:
    engine, _ = pg_ledger
    # +05:30 is not a whole hour away from UTC: local truncation would shift every bucket.
    kolkata = create_engine(engine.url, connect_args={"options": "-c TimeZone=Asia/Kolkata"})
    try:
        with kolkata.connect() as conn:
            assert conn.execute(text("SHOW TimeZone")).scalar() == "Asia/Kolkata"
        assert h.calls_per_hour(kolkata, MINE) == h.calls_per_hour(engine, MINE)
        assert all(x.hour.minute == 0 for x in h.calls_per_hour(kolkata, MINE))
        assert h.latency(kolkata, MINE) == h.latency(engine, MINE)
        for size in (10, 300, 86400):  # the report's shorter and longer buckets too
            buckets = h.calls_per_hour(kolkata, MINE, bucket_seconds=size)
            assert buckets == h.calls_per_hour(engine, MINE, bucket_seconds=size)
            assert all(int(x.hour.timestamp()) % size == 0 for x in buckets)
    finally:
        kolkata.dispose()


def test_buckets_of_any_size_agree_on_sqlite_and_postgresql(
    sqlite_ledger: LedgerDb, pg_ledger: LedgerDb
) -> None:
    for size in (10, 60, 300, 6 * 3600):
        lite = h.calls_per_hour(sqlite_ledger[0], MINE, bucket_seconds=size)
        assert lite == h.calls_per_hour(pg_ledger[0], MINE, bucket_seconds=size)
        assert sum(x.calls for x in lite) == h.summary(sqlite_ledger[0], MINE).calls
        assert h.latency(sqlite_ledger[0], MINE, bucket_seconds=size) == pytest.approx(
            h.latency(pg_ledger[0], MINE, bucket_seconds=size))  # fmt: skip


def test_window_series_peak_is_the_exact_maximum_and_stays_under_each_limit(
    ledger: LedgerDb,
) -> None:
    engine, rows = ledger
    stamps = sorted(r.reserved_at.timestamp() for r in ours(rows))
    series = h.window_series(engine, RATES, MINE, points=60)
    assert [s.rate for s in series] == list(RATES)
    for s in series:
        brute = max(sum(1 for u in stamps if t - s.rate.period < u <= t) for t in stamps)
        assert s.peak == brute
        assert 0 < s.peak <= s.rate.limit
        assert len(s.points) == 60
        for when, count in s.points[::10]:
            t = when.timestamp()
            assert count == sum(1 for u in stamps if t - s.rate.period < u <= t)


def test_latency_percentiles_match_percentile_cont_on_both_databases(ledger: LedgerDb) -> None:
    engine, rows = ledger
    timed = [r for r in ours(rows) if r.duration_ms is not None
             and r.outcome not in ("reserved", "external")]  # fmt: skip
    (overall,) = h.latency(engine, MINE, by_hour=False)
    cuts = statistics.quantiles([r.duration_ms for r in timed], n=100, method="inclusive")  # type: ignore[misc]
    assert overall.count == len(timed)
    assert (overall.p50, overall.p95, overall.p99) == pytest.approx((cuts[49], cuts[94], cuts[98]))
    per_hour = h.latency(engine, MINE)
    assert sum(x.count for x in per_hour) == len(timed)
    assert all(x.p50 <= x.p95 <= x.p99 for x in per_hour)


def test_rows_watermarks_and_recent_runs(ledger: LedgerDb) -> None:
    engine, rows = ledger
    counts = {r.resource: r.rows for r in h.rows_per_resource(engine)}
    assert {k: v for k, v in counts.items() if v} == ROWS
    lags = {x.resource: x.lag_seconds for x in h.watermark_lags(engine, END)}
    assert lags == {k: v.total_seconds() for k, v in WATERMARK_AGE.items()}
    runs = h.recent_runs(engine, MINE)
    assert [r.run_id for r in runs] == [RUNS[1], RUNS[0]]
    newest = runs[0]
    mine = [r for r in ours(rows) if r.run_id == RUNS[1]]
    assert newest.calls == len(mine) and newest.tasks == 3
    assert newest.throttled == sum(r.status == 429 for r in mine)
    assert newest.rows == sum(ROWS.values()) and runs[1].rows is None
    assert newest.dag_id == "courtlistener_pipeline"


def test_watermark_lags_are_sent_as_gauges(ledger: LedgerDb) -> None:
    engine, _ = ledger
    sink = MemorySink()
    assert h.emit_watermark_lags(engine, sink, END) == 3
    assert sink.gauges() == {
        f"courtlistener.watermark_lag_seconds.{k}": v.total_seconds()
        for k, v in WATERMARK_AGE.items()
    }


def test_postgresql_views_agree_with_the_history_queries(pg_ledger: LedgerDb) -> None:
    engine, _ = pg_ledger
    assert create_views(engine) == VIEW_NAMES
    assert create_views(engine) == VIEW_NAMES  # idempotent
    with engine.connect() as conn:
        view_hours = conn.execute(text(
            "SELECT hour_utc, calls, external_calls, throttled, retries, errors "
            "FROM courtflow_calls_per_hour WHERE budget_key = :k ORDER BY hour_utc"),
            {"k": KEY}).all()  # fmt: skip
        view_latency = conn.execute(text(
            "SELECT hour_utc, calls, p50_ms, p95_ms, p99_ms FROM courtflow_latency_per_hour "
            "WHERE budget_key = :k ORDER BY hour_utc"), {"k": KEY}).all()  # fmt: skip
        runs = conn.execute(text("SELECT run_id, calls FROM courtflow_runs")).all()
        errors = conn.execute(text("SELECT sum(errors) FROM courtflow_errors_per_hour "
                                   "WHERE budget_key = :k"), {"k": KEY}).scalar()  # fmt: skip
        lags = conn.execute(text("SELECT resource FROM courtflow_watermark_lag")).scalars().all()
    hours = h.calls_per_hour(engine, MINE)
    assert [(r[0].replace(tzinfo=UTC), *r[1:]) for r in view_hours] == [
        (x.hour, x.calls, x.external, x.throttled, x.retries, x.errors) for x in hours
    ]
    latency = h.latency(engine, MINE)
    assert [(r[0].replace(tzinfo=UTC), r[1]) for r in view_latency] == [
        (x.hour, x.count) for x in latency
    ]
    assert [r[4] for r in view_latency] == pytest.approx([x.p99 for x in latency])
    assert dict(runs)[RUNS[1]] == h.recent_runs(engine, MINE)[0].calls
    assert errors == h.summary(engine, MINE).errors
    assert sorted(lags) == sorted(WATERMARK_AGE)


def test_views_are_refused_on_sqlite(sqlite_ledger: LedgerDb) -> None:
    engine, _ = sqlite_ledger
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_views(engine)
