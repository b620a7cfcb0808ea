"""What window a DAG run syncs (pure logic; Airflow itself is exercised in integration)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from courtflow.airflow.windows import resolve_window

D = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
START = D(2024, 1, 1)


def test_conf_since_until_win() -> None:
    ctx = {"dag_run": SimpleNamespace(conf={"since": "2024-02-01", "until": "2024-02-02"}),
           "data_interval_start": D(2024, 3, 1), "data_interval_end": D(2024, 3, 2)}
    w = resolve_window(ctx, watermark=None, default_start=START)
    assert (w.start, w.end) == (D(2024, 2, 1), D(2024, 2, 2))


def test_scheduled_run_uses_its_data_interval() -> None:
    ctx = {"dag_run": SimpleNamespace(conf={}),
           "data_interval_start": D(2024, 3, 1), "data_interval_end": D(2024, 3, 1, 1)}
    w = resolve_window(ctx, watermark=D(2024, 2, 1), default_start=START)
    assert (w.start, w.end) == (D(2024, 3, 1), D(2024, 3, 1, 1))


def test_manual_run_with_empty_interval_catches_up_from_the_watermark() -> None:
    ctx = {"dag_run": SimpleNamespace(conf={}), "logical_date": D(2024, 3, 5),
           "data_interval_start": D(2024, 3, 5), "data_interval_end": D(2024, 3, 5)}
    w = resolve_window(ctx, watermark=D(2024, 3, 1), default_start=START)
    assert (w.start, w.end) == (D(2024, 3, 1), D(2024, 3, 5))
    first = resolve_window(ctx, watermark=None, default_start=START)
    assert first.start == START


def test_manual_run_at_the_watermark_syncs_nothing_new() -> None:
    ctx = {"dag_run": SimpleNamespace(conf={}), "logical_date": D(2024, 3, 1),
           "data_interval_start": D(2024, 3, 1), "data_interval_end": D(2024, 3, 1)}
    w = resolve_window(ctx, watermark=D(2024, 3, 1), default_start=START)
    assert w.start == D(2024, 3, 1) and w.end >= w.start
