"""The sliding-log rule of courtflow.budget.waits, without a database."""

from __future__ import annotations

import math
import random
from bisect import bisect_right

import pytest

from courtflow.budget.rates import Rate, parse_rates
from courtflow.budget.waits import max_admissible, next_room, nth_newest, room_at, used_in_window

R20_2 = Rate(20, 2.0, "20/2s")
R3_10 = Rate(3, 10.0, "3/10s")


def brute_force_room(times: list[float], rates: list[Rate], now: float, margin: float) -> float:
    """Reference answer: scan candidate instants; the earliest one where every window has room."""

    def fits(t: float) -> bool:
        return all(
            sum(1 for s in times if s > t - r.period - margin and s <= t) < r.limit for r in rates
        )

    if fits(now):
        return 0.0
    candidates = sorted(
        {s + r.period + margin for s in times for r in rates if s + r.period + margin > now}
    )
    return next(t for t in candidates if fits(t))


def test_empty_log_lets_a_call_go_now() -> None:
    assert next_room([], [R20_2], now=100.0) == 0.0


def test_below_the_limit_lets_a_call_go_now() -> None:
    assert next_room([99.0, 99.5], [R3_10], now=100.0) == 0.0


def test_full_window_waits_for_its_oldest_call_to_leave() -> None:
    assert next_room([91.0, 95.0, 99.0], [R3_10], now=100.0) == pytest.approx(101.0)


def test_calls_outside_the_window_do_not_count() -> None:
    assert next_room([80.0, 85.0, 95.0, 99.0], [R3_10], now=100.0) == 0.0


def test_a_call_exactly_one_period_old_has_left_the_window() -> None:
    # The server drops a time once it is <= now - period.
    assert next_room([90.0, 95.0, 99.0], [R3_10], now=100.0) == 0.0


def test_a_call_just_inside_the_period_still_counts() -> None:
    assert next_room([90.001, 95.0, 99.0], [R3_10], now=100.0) == pytest.approx(100.001)


def test_margin_widens_every_window() -> None:
    times = [89.5, 95.0, 99.0]
    assert next_room(times, [R3_10], now=100.0, margin=0.0) == 0.0
    assert next_room(times, [R3_10], now=100.0, margin=1.0) == pytest.approx(100.5)


def test_several_rates_wait_for_the_latest_of_their_openings() -> None:
    rates = parse_rates("2/1s,3/10s")
    times = [91.0, 99.6, 99.8]
    # 2/1s frees at 100.6; 3/10s frees at 101.0: both must hold.
    assert next_room(times, rates, now=100.0) == pytest.approx(101.0)


def test_the_short_rate_can_be_the_binding_one() -> None:
    rates = parse_rates("2/1s,10/10s")
    assert next_room([99.5, 99.7], rates, now=100.0) == pytest.approx(100.5)


def test_rates_tightened_below_the_current_count_wait_for_enough_calls_to_leave() -> None:
    # Five calls inside, limit now 3: the three oldest must leave (the 3rd oldest = 3rd newest).
    times = [91.0, 92.0, 93.0, 94.0, 95.0]
    assert next_room(times, [R3_10], now=100.0) == pytest.approx(103.0)


def test_a_zero_limit_never_has_room() -> None:
    assert next_room([], [Rate(0, 60.0, "0/min")], now=1.0) == math.inf


def test_room_at_ignores_rates_with_too_few_calls() -> None:
    assert room_at([None, 95.0], [R20_2, R3_10], now=100.0) == pytest.approx(105.0)


def test_nth_newest_counts_from_the_end() -> None:
    assert nth_newest([1.0, 2.0, 3.0], 1) == 3.0
    assert nth_newest([1.0, 2.0, 3.0], 3) == 1.0
    assert nth_newest([1.0, 2.0, 3.0], 4) is None


def test_used_in_window_counts_the_widened_window() -> None:
    assert used_in_window([89.0, 90.5, 95.0, 99.0], R3_10, now=100.0) == 3
    assert used_in_window([89.0, 90.5, 95.0, 99.0], R3_10, now=100.0, margin=1.5) == 4


@pytest.mark.parametrize("seed", range(40))
def test_next_room_matches_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    rates = [
        Rate(rng.randint(1, 6), float(rng.choice([1, 2, 5, 10])), "r")
        for _ in range(rng.randint(1, 3))
    ]
    times = sorted(round(rng.uniform(80.0, 100.0), 3) for _ in range(rng.randint(0, 15)))
    margin = rng.choice([0.0, 0.1, 0.5])
    expected = brute_force_room(times, rates, 100.0, margin)
    assert next_room(times, rates, 100.0, margin) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(10))
def test_calls_taken_at_the_announced_times_never_overfill_a_window(seed: int) -> None:
    rng = random.Random(seed)
    rates = [Rate(rng.randint(1, 5), float(rng.choice([1, 3, 7])), "r") for _ in range(2)]
    times: list[float] = []
    now = 0.0
    for _ in range(60):
        now += rng.uniform(0.0, 0.5)
        wait = next_room(times, rates, now)
        now = max(now, wait)
        times.append(now)
        for r in rates:  # the server's check at each call, up to float rounding
            inside = len(times) - bisect_right(times, now - r.period + 1e-9)
            assert inside <= r.limit


def test_max_admissible_counts_full_windows_from_an_empty_log() -> None:
    rates = parse_rates("20/2s,150/20s")
    assert max_admissible(rates, 2.0) == 20  # calls at [0, 2): one burst
    assert max_admissible(rates, 2.001) == 40
    assert max_admissible(rates, 17.0) == 150  # the 20 s window binds
    assert max_admissible(rates, 24.0) == 190  # the first bursts leave at 20 s and 22 s


def test_max_admissible_of_a_single_rate_is_bursts_times_limit() -> None:
    assert max_admissible([Rate(5, 1.0, "5/s")], 3.5) == 20


def test_the_behind_backoff_is_bounded_however_many_tries() -> None:
    from courtflow.budget.budget import BEHIND_FIRST, BEHIND_MAX, behind_backoff

    assert behind_backoff(0) == BEHIND_FIRST
    assert behind_backoff(1) == 2 * BEHIND_FIRST
    # The crash: 2**behind after ~1100 tries overflowed a float.
    for tries in (10, 1_100, 10**6, 10**18):
        assert behind_backoff(tries) == BEHIND_MAX
