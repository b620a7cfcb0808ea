"""Tickets never outlive their process (issue 25), on PostgreSQL and SQLite.

- Waiters killed (SIGKILL) mid-queue stop counting within a heartbeat's lease: the next
  caller is admitted when the windows have room, not at the dead waiters' turns, and
  its admission drops their tickets.
- A waiter stopped by SIGTERM (cron's timeout) gives its place up as it exits.
- A waiter that stops waiting by an error, or by max_sleep without a deferral to come
  back from (the CLI), leaves no ticket behind.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from courtflow.budget import ledger
from courtflow.budget.budget import Budget
from courtflow.budget.rates import Rate, parse_rates
from courtflow.budget.tables import api_budget_tickets, api_call_ledger
from courtflow.errors import BudgetExhaustedError

pytestmark = pytest.mark.timeout(180)
RATES = "1/30s"

# A waiter in its own process: one call, waiting as long as it takes. With "term", it
# handles SIGTERM the way the CLI does.
WAITER = """
import sys
from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.store.engine import make_engine
url, key, rates, mode = sys.argv[1:5]
if mode == "term":
    from courtflow.cli import exit_on_sigterm
    exit_on_sigterm()
budget = Budget(make_engine(url), key, parse_rates(rates), safety_margin=0.1,
                max_sleep=float("inf"), hold_on_defer=False)
budget.reserve("waiter")
print("admitted", flush=True)
"""


def tickets(engine: Engine, key: str) -> list[tuple[int, datetime, datetime]]:
    """Every ticket row of ``key`` (live or not): id, turn, lease."""
    T = api_budget_tickets
    with engine.begin() as conn:
        rows = conn.execute(
            select(T.c.id, T.c.turn_at, T.c.lease_until)
            .where(T.c.budget_key == key)
            .order_by(T.c.id)
        ).all()
    return [(int(i), t, lease) for i, t, lease in rows]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_waiter(engine: Engine, key: str, mode: str = "plain") -> subprocess.Popen[str]:
    url = engine.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-c", WAITER, url, key, RATES, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def budget(engine: Engine, key: str, **kw: object) -> Budget:
    return Budget(engine, key, parse_rates(RATES), safety_margin=0.1, **kw)  # type: ignore[arg-type]


# The rule is the same SQL-free orchestration on both databases; each run waits out real
# windows (about 30 s), so make test runs PostgreSQL and make test-slow SQLite too.
@pytest.mark.parametrize(
    "budget_engine", ["postgresql", pytest.param("sqlite", marks=pytest.mark.slow)], indirect=True
)
def test_killed_waiters_stop_counting_and_the_next_caller_goes_when_the_windows_allow(
    budget_engine: Engine, key: str
) -> None:
    first = budget(budget_engine, key)
    first.reserve("first")  # the window is full for 10 s
    first.close()
    waiters = [start_waiter(budget_engine, key)]
    wait_for(lambda: len(tickets(budget_engine, key)) == 1, "the first waiter's ticket", timeout=25)
    waiters.append(start_waiter(budget_engine, key))
    try:
        wait_for(lambda: len(tickets(budget_engine, key)) == 2, "the second waiter's ticket")
        # The second waiter's turn comes a whole window after the first's.
        turns = [turn for _, turn, _ in tickets(budget_engine, key)]
        for w in waiters:
            os.kill(w.pid, signal.SIGKILL)
            w.wait(timeout=30)
    finally:
        for w in waiters:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert all(w.returncode == -signal.SIGKILL for w in waiters)
    assert all("admitted" not in (w.stdout.read() if w.stdout else "") for w in waiters)

    late = budget(budget_engine, key, max_sleep=float("inf"))
    late.reserve("late")
    late.close()
    with budget_engine.begin() as conn:
        stamps = [
            row[0]
            for row in conn.execute(
                select(api_call_ledger.c.reserved_at)
                .where(api_call_ledger.c.budget_key == key)
                .order_by(api_call_ledger.c.seq)
            )
        ]
    assert len(stamps) == 2  # the first call, then the late caller's: no dead waiter's
    # The windows: one call per 30 s (+ margin) after the first call.
    assert (stamps[1] - stamps[0]).total_seconds() >= 30.0
    # Before the dead second waiter's turn: neither dead ticket held the late caller back.
    assert stamps[1] < max(turns)
    # Its admission dropped the dead tickets (its own is given up by close()).
    assert tickets(budget_engine, key) == []


def test_a_waiter_stopped_by_sigterm_gives_its_place_up_as_it_exits(
    budget_engine: Engine, key: str
) -> None:
    first = budget(budget_engine, key)
    first.reserve("first")
    first.close()
    waiter = start_waiter(budget_engine, key, mode="term")
    try:
        wait_for(lambda: len(tickets(budget_engine, key)) == 1, "the waiter's ticket")
        waiter.send_signal(signal.SIGTERM)
        waiter.wait(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 128 + signal.SIGTERM
    # Gone at once, not when its lease would have run out.
    assert tickets(budget_engine, key) == []


def test_a_waiter_that_gives_up_leaves_no_ticket(budget_engine: Engine, key: str) -> None:
    first = budget(budget_engine, key)
    first.reserve("first")
    first.close()

    class Stop(Exception):
        pass

    def fail(_seconds: float) -> None:
        assert len(tickets(budget_engine, key)) == 1  # it was queued when it stopped
        raise Stop

    with pytest.raises(Stop):
        budget(budget_engine, key, sleep=fail, max_sleep=math.inf).reserve("stops")
    assert tickets(budget_engine, key) == []

    # A CLI that will not wait that long exits: its place goes with it.
    impatient = budget(budget_engine, key, max_sleep=1.0, hold_on_defer=False)
    with pytest.raises(BudgetExhaustedError) as caught:
        impatient.reserve("impatient")
    assert caught.value.wait_seconds > 1.0
    assert tickets(budget_engine, key) == []

    # Airflow defers and comes back: its place is kept for the trigger.
    deferring = budget(budget_engine, key, max_sleep=1.0)
    with pytest.raises(BudgetExhaustedError) as deferred:
        deferring.reserve("deferring")
    assert [t for t, _, _ in tickets(budget_engine, key)] == [deferred.value.ticket]
    with budget_engine.begin() as conn:
        now = ledger.db_now(conn)
    assert all(lease > now for _, _, lease in tickets(budget_engine, key))


def test_the_rates_used_here_are_what_the_assertions_assume() -> None:
    assert parse_rates(RATES) == (Rate(1, 30.0, "1/30s"),)
