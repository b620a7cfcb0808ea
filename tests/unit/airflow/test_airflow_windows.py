"""What window a DAG run syncs (pure logic; Airflow runs it in the integration tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from courtflow.airflow.windows import next_run_due, resolve_window

START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def d(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def ctx(run_type: str, conf: dict[str, Any] | None = None, **values: Any) -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(conf=conf or {}, run_type=run_type), **values}


def test_conf_since_until_win_over_the_data_interval() -> None:
    c = ctx("manual", {"since": "2024-02-01", "until": "2024-02-02"},
            data_interval_start=d(2024, 3, 1), data_interval_end=d(2024, 3, 2))
    w = resolve_window(c, watermark=None, default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 2, 1), d(2024, 2, 2))


def test_conf_with_only_until_starts_at_the_watermark() -> None:
    c = ctx("manual", {"until": "2024-02-02T12:00:00Z"})
    w = resolve_window(c, watermark=d(2024, 2, 1), default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 2, 1), d(2024, 2, 2, 12))


def test_scheduled_and_backfill_runs_use_their_data_interval() -> None:
    for run_type in ("scheduled", "backfill"):
        c = ctx(run_type, data_interval_start=d(2024, 3, 1), data_interval_end=d(2024, 3, 1, 1))
        w = resolve_window(c, watermark=d(2024, 2, 1), default_start=START, now=NOW)
        assert (w.start, w.end) == (d(2024, 3, 1), d(2024, 3, 1, 1))


def test_manual_run_catches_up_from_the_watermark_instead_of_its_last_hour() -> None:
    # Airflow 3 gives a manual run of an interval timetable [run_after - 1h, run_after].
    c = ctx("manual", logical_date=d(2024, 3, 5),
            data_interval_start=d(2024, 3, 4, 23), data_interval_end=d(2024, 3, 5))
    w = resolve_window(c, watermark=d(2024, 3, 1), default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 3, 1), d(2024, 3, 5))
    first = resolve_window(c, watermark=None, default_start=START, now=NOW)
    assert (first.start, first.end) == (START, d(2024, 3, 5))


def test_empty_interval_of_a_trigger_timetable_catches_up_too() -> None:
    c = ctx("scheduled", logical_date=d(2024, 3, 5),
            data_interval_start=d(2024, 3, 5), data_interval_end=d(2024, 3, 5))
    w = resolve_window(c, watermark=d(2024, 3, 1), default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 3, 1), d(2024, 3, 5))


def test_run_dated_before_the_watermark_gets_an_empty_window() -> None:
    c = ctx("manual", logical_date=d(2024, 1, 4),
            data_interval_start=d(2024, 1, 3, 23), data_interval_end=d(2024, 1, 4))
    w = resolve_window(c, watermark=d(2024, 1, 15), default_start=START, now=NOW)
    assert w.empty and w.start == d(2024, 1, 15)


def test_run_without_logical_date_or_interval_catches_up_to_now() -> None:
    c = ctx("manual", logical_date=None)
    w = resolve_window(c, watermark=d(2024, 3, 1), default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 3, 1), NOW)


def test_naive_and_string_bounds_are_utc() -> None:
    c = ctx("scheduled", data_interval_start="2024-03-01T00:00:00",
            data_interval_end=datetime(2024, 3, 1, 1))
    w = resolve_window(c, watermark=None, default_start=START, now=NOW)
    assert (w.start, w.end) == (d(2024, 3, 1), d(2024, 3, 1, 1))


def test_the_next_scheduled_run_is_due_one_interval_after_this_one_ends() -> None:
    c = ctx("scheduled", data_interval_start=d(2024, 3, 1), data_interval_end=d(2024, 3, 1, 1))
    assert next_run_due(c) == d(2024, 3, 1, 2)


def test_only_scheduled_runs_with_an_interval_have_a_next_run_to_book() -> None:
    interval = {"data_interval_start": d(2024, 3, 1), "data_interval_end": d(2024, 3, 1, 1)}
    for run_type in ("manual", "backfill", "asset_triggered"):
        assert next_run_due(ctx(run_type, **interval)) is None
    empty = {"data_interval_start": d(2024, 3, 1), "data_interval_end": d(2024, 3, 1)}
    assert next_run_due(ctx("scheduled", **empty)) is None
    assert next_run_due(ctx("scheduled")) is None


def test_a_catch_up_starts_the_lookback_before_the_watermark() -> None:
    from datetime import timedelta

    hour = timedelta(hours=1)
    c = ctx("manual", logical_date=d(2024, 5, 1))
    w = resolve_window(c, watermark=d(2024, 4, 1), default_start=START, now=NOW, lookback=hour)
    assert (w.start, w.end) == (d(2024, 4, 1) - hour, d(2024, 5, 1))
    # Dated at or before the watermark: still nothing new, lookback or not.
    c = ctx("manual", logical_date=d(2024, 4, 1))
    assert resolve_window(c, watermark=d(2024, 4, 1), default_start=START, now=NOW,
                          lookback=hour).empty  # fmt: skip
    # No watermark yet: from the DAG's start.
    w = resolve_window(ctx("manual"), watermark=None, default_start=START, now=NOW, lookback=hour)
    assert (w.start, w.end) == (START, NOW)


def test_a_scheduled_run_reads_the_tail_the_settle_lag_left_unread() -> None:
    from datetime import timedelta

    hour = timedelta(hours=1)
    c = ctx("scheduled", data_interval_start=d(2024, 3, 1, 1), data_interval_end=d(2024, 3, 1, 2))
    # The previous run stopped five minutes short of this interval: start there.
    mark = d(2024, 3, 1, 1) - timedelta(minutes=5)
    w = resolve_window(c, watermark=mark, default_start=START, now=NOW, lookback=hour)
    assert (w.start, w.end) == (mark, d(2024, 3, 1, 2))
    # A watermark further back is a gap for backfill --gaps, not this run's to read.
    w = resolve_window(c, watermark=d(2024, 2, 1), default_start=START, now=NOW, lookback=hour)
    assert (w.start, w.end) == (d(2024, 3, 1, 1), d(2024, 3, 1, 2))
