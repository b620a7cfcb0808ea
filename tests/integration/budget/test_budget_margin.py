"""The margin learned from the ledger's own timings, on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from courtflow.budget import ledger
from courtflow.budget.budget import Budget
from courtflow.budget.margin import DEFAULT_FLOOR, MIN_SAMPLES, learned_margin
from courtflow.budget.rates import Rate
from courtflow.budget.tables import api_call_ledger
from courtflow.client.gate import CallReport

ROOMY = [Rate(1000, 3600.0, "1000/hour")]


def reported_calls(budget: Budget, count: int, delay: float, duration_ms: float) -> None:
    """``count`` calls reported ``delay`` seconds after their reservation."""
    for _ in range(count):
        ticket = budget.reserve("dockets/")
        assert ticket.call_id is not None
        budget.report(ticket, CallReport(200, "ok", duration_ms))
        L = api_call_ledger
        with budget.engine.begin() as conn:
            reserved = conn.execute(select(L.c.reserved_at).where(L.c.id == ticket.call_id))
            at = reserved.scalar_one() + timedelta(seconds=delay)
            conn.execute(update(L).where(L.c.id == ticket.call_id).values(reported_at=at))


def test_the_budget_keeps_to_the_ceiling_until_it_has_seen_calls(
    budget_engine: Engine, key: str
) -> None:
    budget = Budget(budget_engine, key, ROOMY, safety_margin=1.0, learn_margin=True)
    assert budget.current_margin() == 1.0
    with budget_engine.connect() as conn:
        assert learned_margin(conn, key) == 1.0


def test_the_learned_margin_follows_the_spread_of_reported_calls(
    budget_engine: Engine, key: str
) -> None:
    budget = Budget(budget_engine, key, ROOMY, safety_margin=1.0, learn_margin=True)
    # Reported 300 ms after reserving, of which 250 ms on the wire: counted 50..300 ms.
    reported_calls(budget, MIN_SAMPLES, delay=0.3, duration_ms=250.0)
    with budget_engine.connect() as conn:
        learnt = learned_margin(conn, key)
    assert learnt == min(1.0, max(DEFAULT_FLOOR, 0.25 * 1.25 + 0.02))
    budget._margin_read_at = None  # re-read now rather than after the refresh interval
    assert budget.current_margin() == learnt
    # The learned margin widens the windows of the next reservations.
    refused = Budget(budget_engine, key, [Rate(MIN_SAMPLES, 3600.0, "5/hour")],
                     safety_margin=1.0, learn_margin=True).try_reserve("dockets/")  # fmt: skip
    first = next(iter(reserved_times(budget_engine, key)))
    assert refused.available_at == pytest.approx(first + 3600.0 + learnt, abs=0.01)


def test_a_fixed_margin_ignores_the_ledger(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, ROOMY, safety_margin=0.4)
    reported_calls(budget, MIN_SAMPLES, delay=0.01, duration_ms=5.0)
    budget._margin_read_at = None
    assert budget.current_margin() == 0.4


def reserved_times(engine: Engine, key: str) -> list[float]:
    L = api_call_ledger
    with engine.connect() as conn:
        rows = conn.execute(select(L.c.reserved_at).where(L.c.budget_key == key).order_by(L.c.seq))
        return [ledger.epoch(r) for (r,) in rows]
