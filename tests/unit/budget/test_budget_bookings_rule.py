"""The booking rule (pure): which lower-class calls would eat a higher class's booked room."""

from __future__ import annotations

from courtflow.budget.bookings import Booking, held_until
from courtflow.budget.rates import Rate

SHORT = Rate(5, 5.0, "5/5s")
LONG = Rate(30, 30.0, "30/30s")


def probe(calls: list[float]):  # type: ignore[no-untyped-def]
    """counted_from(back) over ascending call times: the call ``back`` before the newest."""
    return lambda back: calls[-1 - back] if back < len(calls) else None


def booking(due: float, need: int, rank: int = 2, lease: float = 300.0) -> Booking:
    return Booking(1, "incremental", rank, due, need, due + lease)


def test_no_booking_or_a_lower_or_equal_one_holds_nothing() -> None:
    calls = [0.0, 1.0, 2.0]
    assert held_until([], 1, [SHORT], 0.0, 3.0, probe(calls)) is None
    assert held_until([booking(4.0, 5, rank=1)], 1, [SHORT], 0.0, 3.0, probe(calls)) is None
    assert held_until([booking(4.0, 5)], 2, [SHORT], 0.0, 3.0, probe(calls)) is None


def test_a_window_that_empties_before_the_due_time_is_not_held() -> None:
    # Due at 100: a call now (t=10) leaves the 5 s window at 15.
    assert held_until([booking(100.0, 5)], 1, [SHORT], 0.0, 10.0, probe([6, 7, 8, 9])) is None


def test_the_whole_window_booked_holds_until_a_window_past_the_due_time() -> None:
    wake = held_until([booking(12.0, 5)], 1, [SHORT], 0.1, 10.0, probe([]))
    assert wake == 12.0 + 5.1


def test_only_the_booked_room_is_kept() -> None:
    # 30/30s, 10 booked at 40: 20 other calls may be in the window at 40, this one too.
    calls = [float(t) for t in range(11, 31)]  # 20 calls, all still counted at 40
    assert held_until([booking(40.0, 10)], 1, [LONG], 0.0, 31.0, probe(calls[1:])) is None
    wake = held_until([booking(40.0, 10)], 1, [LONG], 0.0, 31.0, probe(calls))
    assert wake == 11.0 + 30.0  # when the oldest of them leaves


def test_a_due_booking_keeps_a_standing_reserve_and_a_lapsed_one_nothing() -> None:
    calls = [50.0, 51.0, 52.0]
    due = booking(45.0, 2)
    assert held_until([due], 1, [SHORT], 0.0, 53.0, probe(calls)) == 55.0  # 5 - 2 = 3 used
    assert held_until([due], 1, [SHORT], 0.0, 53.0, probe(calls[:2])) is None
    lapsed = booking(45.0, 2, lease=5.0)
    assert held_until([lapsed], 1, [SHORT], 0.0, 53.0, probe(calls)) is None


def test_only_the_first_burst_is_kept_in_the_longer_windows() -> None:
    # 10 booked at 5/5s,30/30s: the run takes 5 at once, then 5 as calls leave; the
    # 30 s window keeps 5 free, so 24 others may be in it at the due time (25 with this).
    calls = [float(t) for t in range(11, 35)]  # 24 calls, counted at 40 in 30/30s only
    assert held_until([booking(40.0, 10)], 1, [SHORT, LONG], 0.0, 34.5, probe(calls)) is None
    more = [10.5, *calls]
    wake = held_until([booking(40.0, 10)], 1, [SHORT, LONG], 0.0, 34.5, probe(more))
    assert wake == 10.5 + 30.0
