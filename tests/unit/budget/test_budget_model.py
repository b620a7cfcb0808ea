"""The reference model of admission, by hand-worked examples of its specification.

Each test takes one sentence of ``courtflow.budget.model``'s docstring and checks it on
times worked out by hand; the property test (integration) then holds both
implementations to the model.
"""

from __future__ import annotations

import doctest
import math

from courtflow.budget import model
from courtflow.budget.model import Ask, KeyModel
from courtflow.budget.rates import Rate

TWO_PER_4S = (Rate(2, 4.0, "2/4s"),)
INC = Ask("incremental", 2)
BACK = Ask("backfill", 1)
TOP = Ask("interactive", 3)


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(model).failed == 0


def test_room_returns_exactly_when_the_nth_newest_call_leaves_the_widened_window() -> None:
    key = KeyModel()
    assert key.admit(10.0, TWO_PER_4S, 0.5, INC).admitted
    assert key.admit(11.0, TWO_PER_4S, 0.5, INC).admitted
    refused = key.admit(12.0, TWO_PER_4S, 0.5, INC)
    assert (refused.admitted, refused.wake) == (False, 14.5)  # 10 + 4 + 0.5
    assert not key.admit(14.25, TWO_PER_4S, 0.5, INC).admitted
    assert key.admit(14.5, TWO_PER_4S, 0.5, INC).admitted  # b + W <= now: room


def test_a_reported_call_counts_from_its_report_less_the_margin() -> None:
    key = KeyModel()
    first = key.admit(10.0, TWO_PER_4S, 0.5, INC)
    key.admit(10.0, TWO_PER_4S, 0.5, INC)
    assert first.call is not None
    key.report(first.call, 10.75)  # counts from max(10, 10.75 - 0.5) = 10.25
    # The 2nd newest call in log order is the reported one: 10.25 + 4 + 0.5.
    assert key.admit(11.0, TWO_PER_4S, 0.5, INC).wake == 14.75
    key2 = KeyModel()
    a = key2.admit(10.0, TWO_PER_4S, 0.5, INC)
    key2.admit(11.0, TWO_PER_4S, 0.5, INC)
    assert a.call is not None
    key2.report(a.call, 11.75)  # from 11.25: leaves at 15.75
    assert key2.admit(12.0, TWO_PER_4S, 0.5, INC).wake == 15.75


def test_usage_elsewhere_is_one_row_of_many_calls_slotted_in_by_time() -> None:
    key = KeyModel()
    key.admit(10.0, TWO_PER_4S, 0.0, INC)
    key.elsewhere(9.0, 3)  # before our call: the 2nd newest call is now one of those
    assert key.calls() == 4 and [r.weight for r in key.rows] == [3, 1]
    assert key.admit(11.0, TWO_PER_4S, 0.0, INC).wake == 13.0  # 9 + 4


def test_a_block_holds_every_caller_and_is_never_shortened() -> None:
    key = KeyModel()
    key.block(20.0)
    key.block(15.0)
    refused = key.admit(10.0, TWO_PER_4S, 0.0, TOP)
    assert (refused.admitted, refused.wake) == (False, 20.0)
    assert key.admit(20.0, TWO_PER_4S, 0.0, TOP).admitted


def test_a_higher_class_waiting_goes_first_and_equals_by_arrival() -> None:
    key = KeyModel()
    key.block(12.0)
    inc = key.admit(10.0, TWO_PER_4S, 0.0, Ask("incremental", 2, queue=True))
    top = key.admit(10.5, TWO_PER_4S, 0.0, Ask("interactive", 3, queue=True))
    assert (inc.ahead, top.ahead) == (0, 0)  # the interactive caller jumps the queue
    # At 12 there is room; the incremental waiter still has the interactive one before it,
    # and a backfill newcomer has both.
    assert key.admit(12.0, TWO_PER_4S, 0.0, Ask("incremental", 2, inc.ticket)).ahead == 1
    assert key.admit(12.0, TWO_PER_4S, 0.0, BACK).ahead == 2
    assert key.admit(12.0, TWO_PER_4S, 0.0, Ask("interactive", 3, top.ticket)).admitted


def test_an_equal_late_for_its_turn_no_longer_holds_its_class_up() -> None:
    key = KeyModel()
    key.block(12.0)
    key.admit(10.0, TWO_PER_4S, 0.0, Ask("incremental", 2, queue=True))  # turn at 12
    assert key.admit(12.0, TWO_PER_4S, 0.0, INC).ahead == 1  # on time: it goes first
    assert key.admit(12.125, TWO_PER_4S, 0.0, INC).admitted  # 0.125 late: passed over
    assert key.admit(12.125, TWO_PER_4S, 0.0, BACK).ahead == 1  # still before a lower class


def test_a_hungry_class_goes_before_every_class() -> None:
    shares = (("backfill", 0.25),)
    minute = (Rate(10, 60.0, "10/min"),)
    key = KeyModel()
    for t in (1.0, 2.0, 3.0, 4.0):
        key.admit(t, minute, 0.0, INC)
    key.block(20.0)
    key.admit(5.0, minute, 0.0, Ask("interactive", 3, queue=True, hold=30.0))  # waits
    # Backfill had 0 of the last 4 calls, under 0.25 * 4: it goes before interactive.
    hungry = Ask("backfill", 1, shares=shares, share_span=4)
    assert key.admit(20.0, minute, 0.0, hungry).admitted
    # Now 1 of the last 4 (seq 2..5): its share is met, the interactive waiter goes first.
    assert key.admit(20.0, minute, 0.0, hungry).ahead == 1


def test_a_booking_keeps_its_first_burst_free_from_lower_classes() -> None:
    key = KeyModel()
    rates = (Rate(4, 10.0, "4/10s"),)
    booking = key.book("incremental", 2, due_at=15.0, need=2, hold=60.0)
    # burst = min(2, 4) = 2, k = 4 - 2 - 1 = 1: a backfill call may go while the log
    # holds no 2nd newest call, or that call leaves the window by the due time.
    assert key.admit(10.0, rates, 0.0, BACK).admitted
    assert key.admit(10.0, rates, 0.0, BACK).admitted
    held = key.admit(10.0, rates, 0.0, BACK)
    assert (held.admitted, held.wake) == (False, 20.0)  # 10 + 10 > 15: until 20
    assert key.admit(10.0, rates, 0.0, INC).admitted  # the booked class is not held...
    assert [b.need for b in key.bookings if b.id == booking] == [1]  # ...and uses it


def test_never_when_a_rate_admits_nothing() -> None:
    key = KeyModel()
    refused = key.admit(10.0, (Rate(0, 10.0, "0/10s"),), 0.0, Ask("incremental", 2, queue=True))
    assert refused.wake == math.inf and refused.ticket is None


def test_a_lingering_caller_keeps_its_class_claim_then_re_arrives_now() -> None:
    key = KeyModel()
    done = key.admit(10.0, TWO_PER_4S, 0.0, Ask("interactive", 3, queue=True, linger=1.0))
    assert done.admitted and done.ticket is not None
    assert key.admit(10.5, TWO_PER_4S, 0.0, BACK).ahead == 1  # the claim holds it off
    assert key.admit(10.5, TWO_PER_4S, 0.0, Ask("interactive", 3)).admitted  # not its equals
    back = key.admit(10.75, TWO_PER_4S, 0.0, Ask("interactive", 3, done.ticket, queue=True))
    assert not back.admitted and back.ticket == done.ticket
    mine = next(t for t in key.tickets if t.id == done.ticket)
    assert (mine.arrived_at, mine.waiting_since) == (10.75, 10.75)
