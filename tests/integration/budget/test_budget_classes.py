"""Priority classes and the waiters' queue on real databases (PostgreSQL and SQLite).

- Across OS processes, a full budget serves its waiters by class, then by arrival,
  whatever order they arrived in.
- A class with a minimum share is served its share even while a higher class waits
  all the time; without it, that class is starved (the control).
- A crashed waiter's ticket stops counting when its lease runs out.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from courtflow.budget import ledger, seqlog
from courtflow.budget.admission import Queueing
from courtflow.budget.budget import HEARTBEAT, Budget
from courtflow.budget.classes import BACKFILL, INCREMENTAL, INTERACTIVE, class_stats
from courtflow.budget.rates import Rate, parse_rates
from courtflow.budget.tables import api_budget_tickets, api_call_ledger

sys.path.insert(0, str(Path(__file__).parent))
from budget_classes_load import ClassJob, worker

from bounds import bound

pytestmark = pytest.mark.timeout(240)
ROOMY = [Rate(1000, 3600.0, "1000/hour")]


def live_tickets(engine: Engine, key: str) -> dict[str, int]:
    T = api_budget_tickets
    with engine.begin() as conn:
        now = ledger.db_now(conn)
        found = conn.execute(
            select(T.c.priority, func.count())
            .where(T.c.budget_key == key, T.c.lease_until > now)
            .group_by(T.c.priority)
        ).all()
    return {p: int(n) for p, n in found}


def wait_for(condition: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + bound(timeout)
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def fill(engine: Engine, key: str, rates: list[Rate]) -> None:
    for _ in range(rates[0].limit):
        with engine.begin() as conn:
            assert ledger.try_reserve(conn, key, rates, 0.0, "fill").granted


def test_waiters_in_several_processes_are_served_by_class_then_arrival(
    budget_engine: Engine, key: str
) -> None:
    url = budget_engine.url.render_as_string(hide_password=False)
    rates = "6/hour"
    fill(budget_engine, key, list(parse_rates(rates)))
    ctx = multiprocessing.get_context("spawn")
    starts = {c: ctx.Event() for c in (BACKFILL, INCREMENTAL, INTERACTIVE)}
    results = ctx.Queue()
    # Every process mixes classes: the order must come from the database, not a process.
    jobs = [
        ClassJob(url, key, rates, (BACKFILL, INTERACTIVE)),
        ClassJob(url, key, rates, (INCREMENTAL, BACKFILL)),
        ClassJob(url, key, rates, (INTERACTIVE, INCREMENTAL)),
    ]
    procs = [ctx.Process(target=worker, args=(job, starts, results)) for job in jobs]
    for p in procs:
        p.start()
    try:
        # The lowest class arrives first, the highest last.
        expected = {}
        for priority in (BACKFILL, INCREMENTAL, INTERACTIVE):
            starts[priority].set()
            expected[priority] = 2
            wait_for(lambda e=dict(expected): live_tickets(budget_engine, key) == e,
                     f"{priority} callers to queue")  # fmt: skip
        # Make room for all six at once: the fill leaves the hour window.
        with budget_engine.begin() as conn:
            conn.execute(
                update(api_call_ledger)
                .where(api_call_ledger.c.budget_key == key)
                .values(reserved_at=ledger.db_now(conn) - timedelta(hours=2))
            )
        admitted = [results.get(timeout=bound(120)) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=bound(30))
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs)
    assert sorted(c for found in admitted for c, _ in found) == sorted(
        [BACKFILL, INCREMENTAL, INTERACTIVE] * 2
    )
    L = api_call_ledger
    with budget_engine.begin() as conn:
        order = conn.execute(
            select(L.c.priority).where(L.c.budget_key == key, L.c.endpoint == "dockets/")
            .order_by(L.c.seq)
        ).scalars().all()  # fmt: skip
    assert order == [INTERACTIVE] * 2 + [INCREMENTAL] * 2 + [BACKFILL] * 2
    assert live_tickets(budget_engine, key) == {}
    stats = {s.priority: s for s in class_stats(budget_engine, key, ledger.at(0))}
    assert stats[BACKFILL].queued == stats[INTERACTIVE].queued == 2
    assert stats[BACKFILL].wait_max_ms >= stats[INTERACTIVE].wait_max_ms


def attempt(engine: Engine, key: str, q: Queueing) -> ledger.Reservation:
    with engine.begin() as conn:
        return ledger.try_reserve(conn, key, ROOMY, 0.0, "dockets/", queueing=q)


def run_rounds(engine: Engine, key: str, shares: tuple[tuple[str, float], ...]) -> dict[str, int]:
    """An interactive caller that always waits again, and a backfill caller, in turns.

    Room never runs out (1000/hour): only the queue decides. The interactive caller's
    ticket is always live before the backfill caller asks.
    """
    hungry_q = Queueing(INTERACTIVE, queue=True, peek=True, hold=3600.0, shares=shares,
                        share_span=10)  # fmt: skip
    interactive = attempt(engine, key, hungry_q).ticket
    backfill: int | None = None
    got = {INTERACTIVE: 0, BACKFILL: 0}
    for _ in range(40):
        r = attempt(engine, key, Queueing(BACKFILL, ticket=backfill, queue=True, shares=shares,
                                          share_span=10))  # fmt: skip
        backfill = r.ticket
        got[BACKFILL] += r.granted
        r = attempt(engine, key, Queueing(INTERACTIVE, ticket=interactive, shares=shares,
                                          share_span=10))  # fmt: skip
        got[INTERACTIVE] += r.granted
        # Waits again at once (a peek that takes a ticket and admits nothing).
        interactive = attempt(engine, key, replace(hungry_q, ticket=r.ticket)).ticket
    return got


def test_without_a_minimum_share_a_lower_class_waits_while_a_higher_one_does(
    budget_engine: Engine, key: str
) -> None:
    got = run_rounds(budget_engine, key, ())
    assert got == {INTERACTIVE: 40, BACKFILL: 0}


def test_a_minimum_share_keeps_a_lower_class_from_starving(budget_engine: Engine, key: str) -> None:
    got = run_rounds(budget_engine, key, ((BACKFILL, 0.2),))
    total = got[INTERACTIVE] + got[BACKFILL]
    assert got[BACKFILL] >= 0.2 * total - 1  # its share of every 10 admissions
    assert got[INTERACTIVE] >= 0.75 * total  # and no more than it needs


def test_a_crashed_waiters_ticket_stops_counting_when_its_lease_ends(
    budget_engine: Engine, key: str
) -> None:
    r = attempt(budget_engine, key, Queueing(INTERACTIVE, queue=True, peek=True, hold=3600.0))
    assert r.ticket is not None and r.ready
    held = attempt(budget_engine, key, Queueing(BACKFILL))
    assert not held.granted and held.ahead == 1
    with budget_engine.begin() as conn:  # the holder died: nobody renews its lease
        conn.execute(
            update(api_budget_tickets)
            .where(api_budget_tickets.c.id == r.ticket)
            .values(lease_until=ledger.db_now(conn) - timedelta(seconds=1))
        )
    assert attempt(budget_engine, key, Queueing(BACKFILL)).granted
    Budget(budget_engine, key, ROOMY).purge()  # and the housekeeping deletes it
    with budget_engine.connect() as conn:
        T = api_budget_tickets
        assert conn.execute(select(func.count()).where(T.c.budget_key == key)).scalar_one() == 0


def test_a_higher_class_without_a_ticket_goes_before_lower_waiters(
    budget_engine: Engine, key: str
) -> None:
    low = attempt(budget_engine, key, Queueing(BACKFILL, queue=True, peek=True, hold=60.0))
    assert low.ticket is not None
    same = attempt(budget_engine, key, Queueing(BACKFILL))
    assert not same.granted and same.ahead == 1  # its equal arrived first
    assert attempt(budget_engine, key, Queueing(INCREMENTAL)).granted


def test_a_refused_budget_caller_leaves_no_ticket_behind(budget_engine: Engine, key: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise KeyboardInterrupt

    budget = Budget(budget_engine, key, [Rate(1, 3600.0, "1/hour")], safety_margin=0.0,
                    sleep=sleep, max_sleep=7200.0)  # fmt: skip
    budget.reserve("dockets/")
    with pytest.raises(KeyboardInterrupt):
        budget.reserve("dockets/")
    # An hour to wait, slept a heartbeat at a time (the ticket is renewed in between).
    assert slept == [HEARTBEAT]
    assert live_tickets(budget_engine, key) == {}


def test_a_long_wait_keeps_the_ticket_for_the_deferred_caller(
    budget_engine: Engine, key: str
) -> None:
    from courtflow.errors import BudgetExhaustedError

    budget = Budget(budget_engine, key, [Rate(1, 3600.0, "1/hour")], safety_margin=0.0,
                    max_sleep=60.0, priority=BACKFILL)  # fmt: skip
    budget.reserve("dockets/")
    with pytest.raises(BudgetExhaustedError) as info:
        budget.reserve("dockets/")
    ticket = info.value.ticket
    assert ticket is not None and live_tickets(budget_engine, key) == {BACKFILL: 1}
    peeked = budget.peek(ticket, hold=600.0)
    assert peeked.ticket == ticket and not peeked.ready
    # Room appears: the holder's turn, and the resumed caller is admitted with its ticket.
    with budget_engine.begin() as conn:
        conn.execute(
            update(api_call_ledger)
            .where(api_call_ledger.c.budget_key == key)
            .values(reserved_at=ledger.db_now(conn) - timedelta(hours=2))
        )
    assert budget.peek(ticket).ready
    budget.adopt_ticket(ticket)
    assert budget.reserve("dockets/").call_id is not None
    assert live_tickets(budget_engine, key) == {BACKFILL: 1}  # its claim between calls
    budget.close()
    assert live_tickets(budget_engine, key) == {}


def test_minimum_shares_weigh_usage_made_elsewhere_by_its_calls(
    budget_engine: Engine, key: str
) -> None:
    # 90 calls made elsewhere (one row; classless rows count as incremental), then 10
    # backfill calls: incremental had 90 of the last 100, well above a 0.5 share.
    with budget_engine.begin() as conn:
        seqlog.insert_external(conn, key, ledger.db_now(conn) - timedelta(seconds=1), 90)
    for _ in range(10):
        assert attempt(budget_engine, key, Queueing(BACKFILL)).granted
    waiting = attempt(budget_engine, key, Queueing(INTERACTIVE, queue=True, peek=True, hold=60.0))
    assert waiting.ticket is not None
    shares = ((INCREMENTAL, 0.5),)
    r = attempt(budget_engine, key, Queueing(INCREMENTAL, shares=shares))
    assert not r.granted and r.ahead == 1  # not starved: it waits behind interactive
