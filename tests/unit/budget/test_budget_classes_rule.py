"""The queue rule, class names, shares, turn estimates and the learned margin; no database."""

from __future__ import annotations

import math

import pytest

from courtflow.budget.classes import (
    BACKFILL,
    INCREMENTAL,
    INTERACTIVE,
    Place,
    ahead_of,
    parse_min_shares,
    parse_priority,
    rank,
    starved,
)
from courtflow.budget.margin import MarginPolicy, delay_bounds, margin_from, spread_of
from courtflow.budget.rates import Rate
from courtflow.budget.waits import room_at, slot_at
from courtflow.errors import ConfigError

R5_5 = Rate(5, 5.0, "5/5s")
R30_30 = Rate(30, 30.0, "30/30s")


def place(ticket: int, priority: str, arrived: float) -> Place:
    return Place(ticket, priority, rank(priority), arrived)


QUEUE = [
    place(1, BACKFILL, 10.0),
    place(2, INCREMENTAL, 11.0),
    place(3, BACKFILL, 12.0),
    place(4, INTERACTIVE, 13.0),
]


def test_classes_rank_interactive_over_incremental_over_backfill() -> None:
    assert rank(INTERACTIVE) > rank(INCREMENTAL) > rank(BACKFILL)
    assert parse_priority(None) == INCREMENTAL
    assert parse_priority(" Backfill ") == BACKFILL
    with pytest.raises(ConfigError, match="unknown priority class"):
        parse_priority("urgent")


@pytest.mark.parametrize(
    ("me", "expected"),
    [(QUEUE[3], 0), (QUEUE[1], 1), (QUEUE[0], 2), (QUEUE[2], 3)],
)
def test_a_ticket_waits_behind_higher_classes_and_earlier_equals(me: Place, expected: int) -> None:
    assert ahead_of(me, me.priority, me.rank, QUEUE, frozenset(), now=20.0) == expected


def test_a_caller_without_a_ticket_arrives_now_behind_its_equals() -> None:
    assert ahead_of(None, BACKFILL, rank(BACKFILL), QUEUE, frozenset(), now=20.0) == 4
    assert ahead_of(None, INCREMENTAL, rank(INCREMENTAL), QUEUE, frozenset(), now=20.0) == 2
    assert ahead_of(None, INTERACTIVE, rank(INTERACTIVE), QUEUE, frozenset(), now=20.0) == 1


def test_a_caller_back_within_its_linger_blocks_lower_classes_but_not_its_equals() -> None:
    # Admitted at 14.0 with a linger of 1 s: its ticket "arrives" at 15.0.
    lingering = [place(5, INCREMENTAL, 15.0)]
    assert ahead_of(None, BACKFILL, rank(BACKFILL), lingering, frozenset(), now=14.5) == 1
    assert ahead_of(None, INCREMENTAL, rank(INCREMENTAL), lingering, frozenset(), now=14.5) == 0
    waiter = place(6, INCREMENTAL, 14.2)
    assert ahead_of(waiter, INCREMENTAL, rank(INCREMENTAL), lingering, frozenset(), 14.5) == 0


def test_a_starved_class_goes_first_in_arrival_order() -> None:
    hungry = frozenset({BACKFILL})
    assert ahead_of(QUEUE[0], BACKFILL, rank(BACKFILL), QUEUE, hungry, now=20.0) == 0
    assert ahead_of(QUEUE[2], BACKFILL, rank(BACKFILL), QUEUE, hungry, now=20.0) == 1
    assert ahead_of(QUEUE[3], INTERACTIVE, rank(INTERACTIVE), QUEUE, hungry, now=20.0) == 2


def test_a_class_below_its_share_of_recent_admissions_is_starved() -> None:
    shares = parse_min_shares("backfill=0.1, incremental=0.2")
    assert shares == ((BACKFILL, 0.1), (INCREMENTAL, 0.2))
    assert starved({INTERACTIVE: 90, BACKFILL: 10}, 100, shares) == {INCREMENTAL}
    assert starved({INTERACTIVE: 71, BACKFILL: 9, INCREMENTAL: 20}, 100, shares) == {BACKFILL}
    assert starved({}, 0, shares) == frozenset()


@pytest.mark.parametrize(
    "text", ["backfill", "backfill=0", "backfill=1.5", "nobody=0.1", "backfill=0.6,incremental=0.5"]
)
def test_malformed_minimum_shares_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_min_shares(text)


def test_the_first_waiters_turn_is_when_room_appears() -> None:
    # Five calls at 0..4 s fill 5/5s: the next slot frees when the oldest leaves.
    slots = [0.0]
    assert slot_at(slots, [R5_5], 0, now=4.5, margin=0.1) == room_at(slots, [R5_5], 4.5, 0.1)
    assert slot_at(slots, [R5_5], 0, now=4.5, margin=0.1) == pytest.approx(5.1)


def test_later_waiters_get_later_turns_one_window_per_lap() -> None:
    # 5/5s full with calls at 0, 1, 2, 3, 4: waiter k's slot is call k % 5's, k // 5 laps on.
    calls = [0.0, 1.0, 2.0, 3.0, 4.0]
    turns = [slot_at([calls[k % 5]], [R5_5], k, now=4.5) for k in range(7)]
    assert turns == pytest.approx([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0])
    # A free slot is free now; every rate must have room; a rate of 0 never has.
    assert slot_at([None], [R5_5], 0, now=4.5) == 4.5
    assert slot_at([None, 0.0], [R5_5, R30_30], 0, now=4.5) == 30.0
    assert slot_at([None], [Rate(0, 60.0, "0/min")], 0, now=1.0) == math.inf


def test_the_margin_covers_the_spread_of_the_delay_to_the_server() -> None:
    # Delays between 20 and 60 ms: a spread of 40 ms, with slack.
    samples = [(0.06, 0.02), (0.05, 0.03), (0.04, 0.02), (0.06, 0.05), (0.03, 0.025)]
    assert spread_of(samples) == pytest.approx(0.04)
    policy = MarginPolicy(learn=True, floor=0.01, ceiling=1.0)
    assert margin_from(samples, policy) == pytest.approx(0.04 * 1.25 + 0.02)


def test_the_learned_margin_keeps_to_its_floor_and_ceiling() -> None:
    policy = MarginPolicy(learn=True, floor=0.05, ceiling=1.0)
    assert margin_from([(0.001, 0.0)] * 10, policy) == 0.05
    assert margin_from([(3.0, 0.0)] * 10, policy) == 1.0
    assert margin_from([(0.001, 0.0)] * 2, policy) == 1.0  # too few calls: the ceiling
    assert margin_from([(0.001, 0.0)] * 10, MarginPolicy.fixed(0.3)) == 0.3


def test_one_stalled_call_in_a_hundred_does_not_set_the_margin() -> None:
    samples = [(0.05, 0.01)] * 199 + [(5.0, 0.01)]
    assert spread_of(samples) == pytest.approx(0.04)
    assert spread_of(samples[-10:]) == pytest.approx(4.99)


def test_delay_bounds_come_from_reservation_report_and_duration() -> None:
    from datetime import UTC, datetime, timedelta

    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert delay_bounds(t, t + timedelta(milliseconds=250), 200.0) == pytest.approx((0.25, 0.05))
    assert delay_bounds(t, t + timedelta(milliseconds=10), 200.0) == pytest.approx((0.01, 0.0))


def test_an_equal_late_for_its_turn_does_not_hold_its_class_up() -> None:
    late = Place(7, BACKFILL, rank(BACKFILL), arrived_at=10.0, waiting_since=10.0, turn_at=12.0)
    on_time = Place(8, BACKFILL, rank(BACKFILL), arrived_at=10.0, waiting_since=10.0,
                    turn_at=12.95)  # fmt: skip
    assert ahead_of(None, BACKFILL, rank(BACKFILL), [late], frozenset(), now=13.0) == 0
    assert ahead_of(None, BACKFILL, rank(BACKFILL), [on_time], frozenset(), now=13.0) == 1
    # A higher class holds lower ones up, late or not.
    late_high = Place(9, INTERACTIVE, rank(INTERACTIVE), 10.0, 10.0, 12.0)
    assert ahead_of(None, BACKFILL, rank(BACKFILL), [late_high], frozenset(), now=13.0) == 1
