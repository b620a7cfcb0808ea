"""Checkpoints and watermarks on real PostgreSQL and SQLite."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from courtflow.catalogue.resources import RESOURCES
from courtflow.store.state import (
    Checkpoint,
    advance_watermark,
    get_checkpoint,
    get_watermark,
    list_checkpoints,
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


def test_watermark_starts_empty_and_only_moves_forward(store: Engine) -> None:
    with store.connect() as conn:
        assert get_watermark(conn, "dockets") is None
    with store.begin() as conn:
        advance_watermark(conn, "dockets", END, "run-2")
    with store.begin() as conn:
        advance_watermark(conn, "dockets", START, "run-1")  # an older window finishing late
    with store.connect() as conn:
        assert get_watermark(conn, "dockets") == END
    later = END + timedelta(hours=1)
    with store.begin() as conn:
        advance_watermark(conn, "dockets", later.astimezone(PACIFIC), "run-3")
    with store.connect() as conn:
        mark = get_watermark(conn, "dockets")
        assert mark == later and mark is not None and mark.tzinfo == UTC
        assert get_watermark(conn, "courts") is None


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
        advance_watermark(conn, "dockets", END, "r", ca9)
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
