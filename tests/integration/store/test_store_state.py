"""Checkpoints and watermarks on real PostgreSQL and SQLite."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from courtflow.catalogue.resources import RESOURCES
from courtflow.store.state import (
    LOADED_FROM_START,
    Checkpoint,
    Range,
    gaps_of,
    get_checkpoint,
    get_watermark,
    list_checkpoints,
    loaded_ranges,
    record_range,
    save_checkpoint,
)
from courtflow.store.upsert import count_rows, upsert_rows

PACIFIC = timezone(timedelta(hours=-8))
START = datetime(2025, 1, 6, tzinfo=UTC)
END = START + timedelta(hours=1)
DOCKETS = RESOURCES["dockets"]


def page() -> list[dict[str, object]]:
    return [
        {"id": k, "date_modified": "2025-01-05T16:30:00-08:00", "court_id": "ca9"}
        for k in range(1, 21)
    ]


def test_missing_checkpoint_is_none(store: Engine) -> None:
    with store.connect() as conn:
        assert get_checkpoint(conn, "dockets", START, END) is None
        assert list_checkpoints(conn) == []


def test_checkpoint_round_trips_and_is_found_from_any_offset(store: Engine) -> None:
    cp = Checkpoint("dockets", START, END, next_url="http://x/?cursor=abc", pages=1, rows=20,
                    calls=1)
    with store.begin() as conn:
        save_checkpoint(conn, cp, "run-1")
    with store.connect() as conn:
        found = get_checkpoint(conn, "dockets", START.astimezone(PACIFIC), END.astimezone(PACIFIC))
    assert found == cp
    assert found is not None and found.window_start.tzinfo == UTC


def test_saving_again_replaces_the_checkpoint(store: Engine) -> None:
    cp = Checkpoint("dockets", START, END, next_url="http://x/?cursor=abc", pages=1, rows=20,
                    calls=1)
    done = replace(cp, next_url=None, pages=2, rows=35, calls=2, done=True)
    with store.begin() as conn:
        save_checkpoint(conn, cp, "run-1")
    with store.begin() as conn:
        save_checkpoint(conn, done, "run-1")
    with store.connect() as conn:
        assert get_checkpoint(conn, "dockets", START, END) == done
        assert list_checkpoints(conn, "dockets") == [done]


def test_list_checkpoints_orders_by_resource_and_window_and_filters(store: Engine) -> None:
    later = Checkpoint("dockets", END, END + timedelta(hours=1))
    earlier = Checkpoint("dockets", START, END)
    court = Checkpoint("courts", START, END, done=True)
    with store.begin() as conn:
        for cp in (later, court, earlier):
            save_checkpoint(conn, cp, None)
    with store.connect() as conn:
        assert list_checkpoints(conn) == [court, earlier, later]
        assert list_checkpoints(conn, "dockets") == [earlier, later]


def test_rows_and_checkpoint_commit_together(store: Engine) -> None:
    cp = Checkpoint("dockets", START, END, next_url="http://x/?cursor=p2", pages=1, rows=20,
                    calls=1)
    with store.begin() as conn:
        upsert_rows(conn, DOCKETS, page(), "run-1")
        save_checkpoint(conn, cp, "run-1")
    with store.connect() as conn:
        assert count_rows(conn, DOCKETS) == 20
        assert get_checkpoint(conn, "dockets", START, END) == cp


def test_failure_inside_the_transaction_leaves_neither_rows_nor_checkpoint(
    store: Engine,
) -> None:
    cp = Checkpoint("dockets", START, END, next_url="http://x/?cursor=p2", pages=1)
    with pytest.raises(RuntimeError, match="worker killed"), store.begin() as conn:
        upsert_rows(conn, DOCKETS, page(), "run-1")
        save_checkpoint(conn, cp, "run-1")
        raise RuntimeError("worker killed")
    with store.connect() as conn:
        assert count_rows(conn, DOCKETS) == 0
        assert get_checkpoint(conn, "dockets", START, END) is None


def _day(month: int, day: int) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


def test_watermark_is_the_end_of_the_first_contiguous_range_and_never_jumps_a_gap(
    store: Engine,
) -> None:
    """The issue's case: [01-01, 02-15), [03-01, 03-02), [03-05, 03-06) loaded."""
    with store.connect() as conn:
        assert get_watermark(conn, "dockets") is None
    for start, end in ((_day(1, 1), _day(2, 15)), (_day(3, 1), _day(3, 2)),
                       (_day(3, 5), _day(3, 6))):  # fmt: skip
        with store.begin() as conn:
            mark = record_range(conn, "dockets", start, end, "run-1")
        assert mark == _day(2, 15)
    with store.connect() as conn:
        assert get_watermark(conn, "dockets") == _day(2, 15)
        ranges = loaded_ranges(conn, "dockets")
    assert gaps_of(ranges) == [Range(_day(2, 15), _day(3, 1)), Range(_day(3, 2), _day(3, 5))]
    # Filling the first gap joins three ranges' worth up to the next gap; the watermark
    # moves to it, no further.
    with store.begin() as conn:
        assert record_range(conn, "dockets", _day(2, 15), _day(3, 1), "fill") == _day(3, 2)
    # An overlapping window, given in Pacific time, fills the last gap: one range.
    with store.begin() as conn:
        mark = record_range(conn, "dockets", _day(3, 1).astimezone(PACIFIC),
                            _day(3, 5).astimezone(PACIFIC), "fill")  # fmt: skip
    assert mark == _day(3, 6) and mark.tzinfo == UTC
    with store.connect() as conn:
        assert loaded_ranges(conn, "dockets") == [Range(_day(1, 1), _day(3, 6))]
        assert get_watermark(conn, "courts") is None


def test_an_older_range_apart_from_the_first_load_does_not_move_the_watermark(
    store: Engine,
) -> None:
    with store.begin() as conn:
        record_range(conn, "dockets", _day(6, 1), _day(6, 10), "r1")
    with store.begin() as conn:
        # A backfill of an older month, apart: a gap, and the watermark stays.
        assert record_range(conn, "dockets", _day(1, 1), _day(2, 1), "r2") == _day(6, 10)
        # An empty range changes nothing.
        assert record_range(conn, "dockets", _day(7, 1), _day(7, 1), "r3") == _day(6, 10)
    with store.connect() as conn:
        assert gaps_of(loaded_ranges(conn, "dockets")) == [Range(_day(2, 1), _day(6, 1))]
    with store.begin() as conn:  # a bootstrap: everything before its date, merged
        assert record_range(conn, "dockets", LOADED_FROM_START, _day(6, 5), "boot") \
            == _day(6, 10)
    with store.connect() as conn:
        assert loaded_ranges(conn, "dockets") == [Range(LOADED_FROM_START, _day(6, 10))]


def test_naive_window_bounds_are_refused(store: Engine) -> None:
    with store.connect() as conn, pytest.raises(ValueError, match="aware"):
        get_checkpoint(conn, "dockets", datetime(2025, 1, 1), END)


def test_scopes_of_one_resource_keep_their_own_checkpoints_and_watermarks(
    store: Engine,
) -> None:
    scotus, ca9 = "court=scotus", "court=ca9"
    with store.begin() as conn:
        save_checkpoint(
            conn, Checkpoint("dockets", START, END, "next-s", 1, 20, 1, scope=scotus), "r"
        )
        save_checkpoint(conn, Checkpoint("dockets", START, END, None, 2, 30, 2, True, ca9), "r")
        record_range(conn, "dockets", START, END, "r", ca9)
    with store.connect() as conn:
        s = get_checkpoint(conn, "dockets", START, END, scotus)
        c = get_checkpoint(conn, "dockets", START, END, ca9)
        assert s is not None and s.next_url == "next-s" and not s.done and s.scope == scotus
        assert c is not None and c.done and c.scope == ca9
        assert get_checkpoint(conn, "dockets", START, END) is None  # the whole resource
        assert get_watermark(conn, "dockets", ca9) == END
        assert get_watermark(conn, "dockets", scotus) is None
        assert get_watermark(conn, "dockets") is None
        assert [cp.scope for cp in list_checkpoints(conn, "dockets")] == [ca9, scotus]
        assert [cp.scope for cp in list_checkpoints(conn, "dockets", scope=ca9)] == [ca9]
