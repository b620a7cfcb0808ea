"""Bookings on real databases (PostgreSQL and SQLite): room kept for a higher class.

- Before the due time, a lower class leaves the booked room free in every window that
  reaches the due time, and only there.
- The booked class (and higher) is not held; its admissions use the booking up, then
  the lower class has the rest.
- A cancelled or lapsed booking holds nothing; bad bookings are refused with a reason.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bounds import bound
from courtflow.budget import bookings, ledger
from courtflow.budget.admission import Queueing
from courtflow.budget.budget import Budget
from courtflow.budget.classes import BACKFILL, INCREMENTAL, INTERACTIVE
from courtflow.budget.rates import Rate
from courtflow.budget.tables import api_budget_bookings
from courtflow.errors import ConfigError

pytestmark = pytest.mark.timeout(120)


def attempt(
    engine: Engine, key: str, rates: list[Rate], priority: str, *, peek: bool = False
) -> ledger.Reservation:
    with engine.begin() as conn:
        return ledger.try_reserve(
            conn, key, rates, 0.0, "dockets/", queueing=Queueing(priority=priority, peek=peek)
        )


def db_now(engine: Engine) -> datetime:
    with engine.begin() as conn:
        return ledger.db_now(conn)


def need_left(engine: Engine, booking: int) -> int | None:
    K = api_budget_bookings
    with engine.begin() as conn:
        return conn.execute(select(K.c.need).where(K.c.id == booking)).scalar()


def test_a_lower_class_leaves_the_booked_room_free(budget_engine: Engine, key: str) -> None:
    rates = [Rate(6, 3600.0, "6/hour")]
    budget = Budget(budget_engine, key, rates, safety_margin=0.0, priority=INCREMENTAL)
    booking = budget.book(2, db_now(budget_engine) + timedelta(seconds=20))
    admitted = [attempt(budget_engine, key, rates, BACKFILL).granted for _ in range(6)]
    assert admitted == [True] * 4 + [False] * 2  # 6 - 2 booked
    refused = attempt(budget_engine, key, rates, BACKFILL)
    # It may go again only once its calls have left the window that reaches the due time.
    assert refused.available_at >= refused.now + 3000
    assert not attempt(budget_engine, key, rates, BACKFILL, peek=True).ready
    # The booked class is not held; its admissions use the booking up.
    assert attempt(budget_engine, key, rates, INCREMENTAL).granted
    assert need_left(budget_engine, booking) == 1
    assert attempt(budget_engine, key, rates, INCREMENTAL).granted
    assert need_left(budget_engine, booking) == 0
    assert not attempt(budget_engine, key, rates, INCREMENTAL).granted  # the window is full


def test_only_windows_reaching_the_due_time_are_held(budget_engine: Engine, key: str) -> None:
    short, long = Rate(3, 2.0, "3/2s"), Rate(8, 3600.0, "8/hour")
    budget = Budget(budget_engine, key, [short, long], safety_margin=0.0, priority=INCREMENTAL)
    # Due in ten minutes: a call now leaves the 2 s window long before, so only the
    # hourly window keeps the room (8 - 3 booked = 5 for the backfill).
    budget.book(3, db_now(budget_engine) + timedelta(minutes=10))
    granted = 0
    deadline = db_now(budget_engine) + timedelta(seconds=bound(30))  # a hang guard
    while db_now(budget_engine) < deadline:
        r = attempt(budget_engine, key, [short, long], BACKFILL)
        if r.granted:
            granted += 1
            continue
        if r.wait > 100:
            break  # held by the booking, not by the short window
        time.sleep(r.wait + 0.01)
    assert granted == 5


def test_a_higher_class_is_not_held_and_an_equal_uses_the_booking(
    budget_engine: Engine, key: str
) -> None:
    rates = [Rate(4, 3600.0, "4/hour")]
    budget = Budget(budget_engine, key, rates, safety_margin=0.0, priority=INCREMENTAL)
    budget.book(4, db_now(budget_engine) + timedelta(seconds=30))
    assert not attempt(budget_engine, key, rates, BACKFILL).granted  # the whole window booked
    assert attempt(budget_engine, key, rates, INTERACTIVE).granted
    assert attempt(budget_engine, key, rates, INCREMENTAL).granted


def test_cancelled_and_lapsed_bookings_hold_nothing(budget_engine: Engine, key: str) -> None:
    rates = [Rate(3, 3600.0, "3/hour")]
    budget = Budget(budget_engine, key, rates, safety_margin=0.0, priority=INCREMENTAL)
    now = db_now(budget_engine)
    booking = budget.book(3, now + timedelta(seconds=30))
    assert not attempt(budget_engine, key, rates, BACKFILL).granted
    budget.cancel_booking(booking)
    assert attempt(budget_engine, key, rates, BACKFILL).granted
    # Lapsed: due an hour ago, held for a minute after.
    budget.book(3, now - timedelta(hours=1), hold=60.0)
    assert attempt(budget_engine, key, rates, BACKFILL).granted


def test_a_due_booking_keeps_a_standing_reserve_until_used(
    budget_engine: Engine, key: str
) -> None:
    rates = [Rate(5, 3600.0, "5/hour")]
    budget = Budget(budget_engine, key, rates, safety_margin=0.0, priority=INCREMENTAL)
    budget.book(2, db_now(budget_engine) - timedelta(seconds=5))  # due, its run is late
    assert [attempt(budget_engine, key, rates, BACKFILL).granted for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip
    assert attempt(budget_engine, key, rates, INCREMENTAL).granted
    assert attempt(budget_engine, key, rates, INCREMENTAL).granted


@pytest.mark.parametrize(
    ("calls", "due", "hold", "problem"),
    [
        (0, datetime(2030, 1, 1, tzinfo=UTC), 60.0, "at least one call"),
        (3, datetime(2030, 1, 1), 60.0, "time zone"),
        (3, datetime(2030, 1, 1, tzinfo=UTC), 0.0, "hold"),
    ],
)
def test_bad_bookings_are_refused(
    budget_engine: Engine, key: str, calls: int, due: datetime, hold: float, problem: str
) -> None:
    budget = Budget(budget_engine, key, [Rate(3, 60.0, "3/min")], priority=INCREMENTAL)
    with pytest.raises(ConfigError, match=problem):
        budget.book(calls, due, hold=hold)
    with pytest.raises(ConfigError, match="unknown priority"):
        budget.book(1, datetime(2030, 1, 1, tzinfo=UTC), priority="urgent")
    with budget_engine.begin() as conn:
        assert bookings.live_bookings(conn, key, ledger.db_now(conn)) == []


def test_a_task_gives_up_the_booking_made_for_its_run(budget_engine: Engine, key: str) -> None:
    rates = [Rate(3, 3600.0, "3/hour")]
    ids = {"dag_id": "hourly", "task_id": "dockets.sync", "priority": INCREMENTAL}
    budget = Budget(budget_engine, key, rates, safety_margin=0.0, **ids)  # type: ignore[arg-type]
    other = Budget(budget_engine, key, rates, dag_id="hourly", task_id="clusters.sync")
    now = db_now(budget_engine)
    this_run = budget.book(2, now)  # made by the previous run, for this one
    next_run = budget.book(2, now + timedelta(hours=1))
    theirs = other.book(1, now)
    assert budget.cancel_due_bookings() == 1
    with budget_engine.begin() as conn:
        left = {b.id for b in bookings.live_bookings(conn, key, ledger.db_now(conn))}
    assert left == {next_run, theirs} and this_run not in left


def test_a_backfill_books_nothing_for_its_next_run(budget_engine: Engine, key: str) -> None:
    rates = [Rate(3, 3600.0, "3/hour")]
    due = db_now(budget_engine) + timedelta(hours=1)
    backfill = Budget(budget_engine, key, rates, priority=BACKFILL, task_id="dockets.sync")
    assert backfill.book_next(5, due) is None  # no class ranks below it
    hourly = Budget(budget_engine, key, rates, priority=INCREMENTAL, task_id="dockets.sync")
    assert hourly.book_next(0, due) is None and hourly.book_next(5, None) is None
    booking = hourly.book_next(5, due)
    with budget_engine.begin() as conn:
        assert [b.id for b in bookings.live_bookings(conn, key, ledger.db_now(conn))] == [booking]
