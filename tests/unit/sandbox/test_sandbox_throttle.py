"""The sandbox throttle is CourtListener's sliding-log rule, checked with a fake clock."""

from __future__ import annotations

import itertools

import pytest

from courtflow.budget.rates import parse_rates
from courtflow.sandbox.throttle import SlidingLogThrottle, Verdict, evaluate


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(rates: str, clock: FakeClock, **kwargs: object) -> SlidingLogThrottle:
    return SlidingLogThrottle(parse_rates(rates), clock=clock, **kwargs)  # type: ignore[arg-type]


def brute_force_admits(log: list[float], rates: str, now: float) -> bool:
    return all(sum(1 for t in log if t > now - r.period) < r.limit for r in parse_rates(rates))


def test_refuses_the_request_after_n_in_the_window_and_admits_when_the_oldest_leaves() -> None:
    clock = FakeClock(100.0)
    throttle = make("3/10s", clock)
    assert [throttle.check("k").admitted for _ in range(3)] == [True, True, True]
    refused = throttle.check("k")
    assert not refused.admitted and refused.rate is not None and refused.rate.text == "3/10s"
    assert refused.wait == pytest.approx(10.0)
    clock.now = 109.999
    assert not throttle.check("k").admitted
    clock.now = 110.0  # a time exactly ``period`` old has left the window
    assert throttle.check("k").admitted


def test_retry_after_is_the_wait_rounded_up_to_whole_seconds() -> None:
    clock = FakeClock(0.0)
    throttle = make("5/min", clock)
    for t in (0.0, 10.0, 20.0, 30.0, 40.5):
        clock.now = t
        assert throttle.check("k").admitted
    clock.now = 41.0
    exact = throttle.check("k")
    assert exact.wait == pytest.approx(19.0) and exact.retry_after == 19
    clock.now = 41.2
    fraction = throttle.check("k")
    assert fraction.wait == pytest.approx(18.8) and fraction.retry_after == 19


def test_the_longest_wait_among_failing_rates_is_reported() -> None:
    clock = FakeClock(0.0)
    throttle = make("2/s,3/min", clock)
    for t in (0.0, 0.1, 1.5):
        clock.now = t
        assert throttle.check("k").admitted
    clock.now = 1.6  # one time in the 1 s window, three in the minute
    verdict = throttle.check("k")
    assert not verdict.admitted and verdict.rate is not None and verdict.rate.text == "3/min"
    assert verdict.retry_after == 59  # 0.0 + 60 - 1.6 = 58.4, rounded up


def test_tightened_rates_wait_for_enough_old_requests_to_expire() -> None:
    clock = FakeClock(0.0)
    throttle = make("100/min", clock)
    for t in range(10):
        clock.now = float(t)
        assert throttle.check("k").admitted
    throttle.set_rates(["3/min"])
    clock.now = 10.0
    verdict = throttle.check("k")
    # 10 in the window, limit 3: the 8th oldest (t=7) must leave: 7 + 60 - 10 = 57.
    assert not verdict.admitted and verdict.retry_after == 57
    clock.now = 67.0
    assert throttle.check("k").admitted


def test_only_admitted_requests_are_recorded() -> None:
    clock = FakeClock(0.0)
    throttle = make("2/10s", clock)
    throttle.check("k")
    throttle.check("k")
    for t in range(1, 9):  # refused requests must not extend the wait
        clock.now = float(t)
        assert not throttle.check("k").admitted
    assert throttle.admissions("k") == [0.0, 0.0]
    clock.now = 10.0
    assert throttle.check("k").admitted
    assert throttle.counts()["k"] == (3, 8)


def test_blocked_tokens_and_zero_rates_are_refused_without_a_wait() -> None:
    clock = FakeClock(0.0)
    throttle = make("5/min", clock, blocked=("bad",))
    blocked = throttle.check("bad")
    assert blocked == Verdict(admitted=False) and blocked.retry_after is None
    assert throttle.check("good").admitted
    throttle.set_rates("0/hour")
    zero = throttle.check("good")
    assert not zero.admitted and zero.retry_after is None and zero.rate is not None
    assert throttle.admissions("bad") == []


def test_each_token_has_its_own_log_and_rates_can_differ_per_token() -> None:
    clock = FakeClock(0.0)
    throttle = make("1/min", clock)
    assert throttle.check("a").admitted and throttle.check("b").admitted
    assert not throttle.check("a").admitted
    throttle.set_rates("2/min", key="a")
    assert throttle.check("a").admitted
    assert not throttle.check("b").admitted


def test_usage_made_elsewhere_counts_against_the_same_windows() -> None:
    clock = FakeClock(50.0)
    throttle = make("10/min", clock)
    throttle.add_usage("k", 9)
    assert throttle.check("k").admitted
    assert not throttle.check("k").admitted
    (state,) = throttle.usage("k")
    assert (state.used, state.remaining, state.reset_at) == (10, 0, 110.0)


def test_usage_reports_an_empty_window_without_reset_time() -> None:
    throttle = make("5/min,50/hour", FakeClock(0.0))
    assert [(s.used, s.remaining, s.reset_at) for s in throttle.usage("k")] == [
        (0, 5, None),
        (0, 50, None),
    ]


def test_reset_empties_every_window() -> None:
    throttle = make("1/hour", FakeClock(0.0))
    throttle.check("k")
    assert not throttle.check("k").admitted
    throttle.reset()
    assert throttle.check("k").admitted


def test_a_compressed_multi_rate_list_matches_a_brute_force_sliding_log() -> None:
    clock = FakeClock(0.0)
    rates = "20/2s,150/20s"
    throttle = make(rates, clock)
    admitted: list[float] = []
    # Demand far above the limits for 45 s: every 10 ms one request.
    for step in range(4500):
        clock.now = step * 0.01
        expected = brute_force_admits(admitted, rates, clock.now)
        assert throttle.check("k").admitted is expected
        if expected:
            admitted.append(clock.now)
    assert throttle.admissions("k") == admitted
    # Never more than the limit in any window ending at an admission.
    for rate in parse_rates(rates):
        for t in admitted:
            assert sum(1 for u in admitted if t - rate.period < u <= t) <= rate.limit
    # The slow window binds: 150 in the first 20 s although 20/2s alone would allow 200.
    assert sum(1 for t in admitted if t < 20.0) == 150


def test_evaluate_is_a_pure_function_of_log_rates_and_now() -> None:
    rates = parse_rates("2/10s")
    log = [1.0, 2.0, 3.0]
    verdict = evaluate(log, rates, now=5.0)
    assert not verdict.admitted and verdict.wait == pytest.approx(2.0 + 10.0 - 5.0)
    assert evaluate(log, rates, now=12.5).admitted
    assert log == [1.0, 2.0, 3.0]


def test_the_log_stays_sorted_when_the_clock_steps_back() -> None:
    times = itertools.chain([10.0, 9.0, 11.0], itertools.repeat(11.0))
    throttle = SlidingLogThrottle(parse_rates("100/min"), clock=lambda: next(times))
    for _ in range(3):
        throttle.check("k")
    log = throttle.admissions("k")
    assert log == sorted(log)
