"""Percentiles and sliding-window counts agree with brute force."""

from __future__ import annotations

import random
import statistics

import pytest

from courtflow.observe.calc import peak_window, percentile_cont, sample_times, window_counts


def brute_count(stamps: list[float], period: float, t: float) -> int:
    return sum(1 for s in stamps if t - period < s <= t)


def test_percentile_cont_matches_linear_interpolation_between_ranks() -> None:
    rnd = random.Random(3)
    values = sorted(rnd.lognormvariate(5, 1) for _ in range(257))
    # statistics' "inclusive" method is the same rule as PostgreSQL's percentile_cont.
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q, cut in ((0.5, cuts[49]), (0.95, cuts[94]), (0.99, cuts[98])):
        assert percentile_cont(values, q) == pytest.approx(cut)
    assert percentile_cont([7.0], 0.99) == 7.0
    assert percentile_cont([1.0, 2.0], 0.5) == 1.5
    with pytest.raises(ValueError):
        percentile_cont([], 0.5)


def test_window_counts_count_calls_in_the_half_open_window_ending_at_each_instant() -> None:
    stamps = [0.0, 1.0, 1.0, 2.5, 10.0, 10.0, 10.0, 19.9, 20.0]
    at = [0.0, 1.0, 5.0, 10.0, 11.0, 20.0, 30.0]
    assert window_counts(stamps, 10.0, at) == [1, 3, 4, 6, 4, 2, 0]
    assert window_counts(stamps, 10.0, at) == [brute_count(stamps, 10.0, t) for t in at]


def test_peak_window_is_the_exact_maximum_over_every_window() -> None:
    rnd = random.Random(11)
    for _ in range(30):
        stamps = sorted(round(rnd.uniform(0, 100), 1) for _ in range(rnd.randint(1, 60)))
        period = rnd.choice([1.0, 5.0, 17.5, 60.0])
        peak, at = peak_window(stamps, period)
        assert peak == max(brute_count(stamps, period, t) for t in stamps)
        assert at is not None and brute_count(stamps, period, at) == peak


def test_equal_timestamps_all_count_in_the_peak() -> None:
    assert peak_window([5.0, 5.0, 5.0, 9.0], 2.0) == (3, 5.0)


def test_peak_window_ignores_windows_ending_before_since() -> None:
    stamps = [0.0, 0.1, 0.2, 0.3, 50.0, 50.5]
    assert peak_window(stamps, 10.0) == (4, 0.3)
    assert peak_window(stamps, 10.0, since=40.0) == (2, 50.5)
    assert peak_window([], 10.0) == (0, None)


def test_sample_times_span_both_ends() -> None:
    assert sample_times(0.0, 10.0, 6) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert sample_times(5.0, 5.0, 10) == [5.0]
