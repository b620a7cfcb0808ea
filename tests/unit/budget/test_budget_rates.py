"""Combining the configured rate list with the server's: courtflow.budget.rates.tighter."""

from __future__ import annotations

from courtflow.budget.ledger import effective_rates
from courtflow.budget.rates import parse_rates, tighter


def texts(rates: tuple[object, ...]) -> list[str]:
    return [str(r) for r in rates]


def test_a_tighter_server_list_replaces_the_looser_configured_rates() -> None:
    merged = tighter(parse_rates("20/2s,150/20s"), parse_rates("15/2s,100/20s"))
    assert texts(merged) == ["15/2s", "100/20s"]


def test_rates_of_different_periods_are_all_kept() -> None:
    merged = tighter(parse_rates("5000/hour"), parse_rates("5/min,50/hour,125/day"))
    assert texts(merged) == ["5/min", "50/hour", "125/day"]


def test_a_longer_window_with_a_lower_limit_implies_the_shorter_one() -> None:
    assert texts(tighter(parse_rates("100/min,50/hour"))) == ["50/hour"]


def test_a_looser_server_list_changes_nothing() -> None:
    configured = parse_rates("10/min,100/hour")
    assert tighter(configured, parse_rates("20/min,200/hour")) == configured


def test_identical_lists_merge_to_one_copy() -> None:
    assert texts(tighter(parse_rates("5/min"), parse_rates("5/min"))) == ["5/min"]


def test_effective_rates_add_only_the_server_rates_that_bind_less_headroom() -> None:
    configured = parse_rates("20/2s,150/20s")
    assert effective_rates(configured, None, 0.0) == configured
    extra = effective_rates(configured, "15/2s,100/20s", 0.1)[len(configured) :]
    assert [(r.limit, r.period) for r in extra] == [(13, 2.0), (90, 20.0)]
