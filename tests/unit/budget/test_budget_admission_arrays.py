"""The parts of the ledger that need no database."""

from __future__ import annotations

from courtflow.budget.admission import _pg_arrays
from courtflow.budget.rates import parse_rates


def test_rates_become_array_literals_with_the_margin_in_every_window() -> None:
    rates = tuple(parse_rates("20/2s,150/20s,5000/hour"))
    limits, windows = _pg_arrays(rates, 0.08)
    assert limits == "{20,150,5000}"
    assert [float(w) for w in windows.strip("{}").split(",")] == [2.08, 20.08, 3600.08]


def test_one_rate_without_margin() -> None:
    assert _pg_arrays(tuple(parse_rates("5000/hour")), 0.0) == ("{5000}", "{3600.0}")
