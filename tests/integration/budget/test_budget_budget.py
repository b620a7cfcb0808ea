"""Budget, the CallGate on the ledger: waiting, deferring, blocks, usage, reconciliation."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text

from courtflow.budget import ledger
from courtflow.budget.budget import Budget, reserving_engine
from courtflow.budget.rates import Rate, parse_rate, parse_rates
from courtflow.budget.tables import api_call_ledger
from courtflow.client.gate import CallReport
from courtflow.client.usage import ApiUsage, UsageWindow
from courtflow.config import Settings
from courtflow.errors import BlockedError, BudgetExhaustedError, ConfigError
from courtflow.redact import Secret


class Sleeps:
    """Records the waits and really sleeps them (the budget runs on the database clock)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def db_now(engine: Engine) -> datetime:
    with engine.begin() as conn:
        return ledger.db_now(conn)


def usage(*windows: tuple[str, int, int, datetime | None]) -> ApiUsage:
    return ApiUsage(
        windows=(
            *(
                UsageWindow(
                    "user",
                    rate,
                    used,
                    parse_rate(rate).limit,
                    max(0, parse_rate(rate).limit - used),
                    seconds,
                    reset_at,
                    False,
                )
                for rate, used, seconds, reset_at in windows
            ),
            UsageWindow("api_usage", "10/min", 1, 10, 9, 60, None, False),
        ),
        historical={},
    )


def test_short_waits_are_slept_until_the_window_has_room(budget_engine: Engine, key: str) -> None:
    sleeps = Sleeps()
    budget = Budget(budget_engine, key, parse_rates("2/s"), safety_margin=0.05, sleep=sleeps)
    tickets = [budget.reserve("dockets/") for _ in range(3)]
    # One wait, no longer than the window plus the margin; how much shorter depends on
    # how long the first two reservations took. It ended when the window had room:
    assert len(sleeps.waits) == 1 and 0.0 < sleeps.waits[0] <= 1.05
    assert tickets[2].reserved_at >= tickets[0].reserved_at + 1.05
    assert all(t.call_id is not None and t.endpoint == "dockets/" for t in tickets)


def test_a_wait_longer_than_max_sleep_raises_for_the_caller_to_defer(
    budget_engine: Engine, key: str
) -> None:
    budget = Budget(budget_engine, key, parse_rates("1/hour"), safety_margin=1.0, max_sleep=5.0)
    first = budget.reserve("dockets/")
    with pytest.raises(BudgetExhaustedError) as caught:
        budget.reserve("dockets/")
    after = db_now(budget_engine).timestamp()
    assert caught.value.available_at == pytest.approx(first.reserved_at + 3601.0, abs=1e-3)
    # The wait counts from the refusal, somewhere between the first call and now.
    assert first.reserved_at + 3601.0 - after <= caught.value.wait_seconds <= 3601.0
    assert key in str(caught.value)
    assert budget.next_available() == pytest.approx(caught.value.available_at, abs=1e-3)


def test_a_429_blocks_every_budget_of_the_same_key(budget_engine: Engine, key: str) -> None:
    before = db_now(budget_engine).timestamp()
    Budget(budget_engine, key, parse_rates("100/min")).throttled(30.0)
    other = Budget(budget_engine, key, parse_rates("100/min"), max_sleep=1.0)
    with pytest.raises(BudgetExhaustedError) as caught:
        other.reserve("dockets/")
    after = db_now(budget_engine).timestamp()
    # Blocked 30 s from the 429 (at or after `before`), refused at or before `after`.
    assert before + 30.0 - after <= caught.value.wait_seconds <= 30.0
    assert Budget(budget_engine, key + ":other", parse_rates("100/min")).reserve("x").call_id


def test_a_dropped_database_connection_is_retried_once(pg_engine: Engine, key: str) -> None:
    budget = Budget(pg_engine, key, parse_rates("100/min"))
    ready = threading.Barrier(3)

    def hold_a_pooled_connection() -> None:  # so the pool holds several connections
        with reserving_engine(budget.engine).connect():
            ready.wait()

    holders = [threading.Thread(target=hold_a_pooled_connection) for _ in range(2)]
    for t in holders:
        t.start()
    ready.wait()
    for t in holders:
        t.join()
    budget.reserve("a")
    with pg_engine.connect() as conn:  # what a server restart does to open sessions
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert budget.reserve("b").call_id is not None


def test_report_records_the_outcome(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("10/min"))
    ticket = budget.reserve("dockets/")
    budget.report(ticket, CallReport(status=200, outcome="ok", duration_ms=42.0, bytes=1234))
    assert budget.usage()[0].used == 1


def test_usage_reports_each_window(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("2/min,5/hour"), safety_margin=0.5)
    before = db_now(budget_engine).timestamp()
    first = budget.reserve("a")
    budget.reserve("b")
    per_minute, per_hour = budget.usage()
    assert (per_minute.rate, per_minute.used, per_minute.limit, per_minute.remaining) == (
        "2/min",
        2,
        2,
        0,
    )
    assert per_minute.available_at == pytest.approx(first.reserved_at + 60.5, abs=1e-3)
    assert (per_hour.used, per_hour.remaining) == (2, 3)
    assert per_hour.available_at >= before


def test_next_available_is_now_when_there_is_room(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("5/min"))
    before = db_now(budget_engine).timestamp()
    assert before <= budget.next_available() <= db_now(budget_engine).timestamp()


def test_adopted_server_rates_bind_when_tighter_for_every_budget(
    budget_engine: Engine, key: str
) -> None:
    Budget(budget_engine, key, parse_rates("5/hour")).adopt_rates(parse_rates("2/hour"))
    later = Budget(budget_engine, key, parse_rates("5/hour"), max_sleep=0.0)
    later.reserve("a")
    later.reserve("b")
    with pytest.raises(BudgetExhaustedError):
        later.reserve("c")
    assert [r.text for r in later.rates] == ["2/hour"]


def test_looser_server_rates_do_not_loosen_the_budget(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("1/hour"), max_sleep=0.0)
    assert [r.text for r in budget.adopt_rates(parse_rates("10/hour"))] == ["1/hour"]
    budget.reserve("a")
    with pytest.raises(BudgetExhaustedError):
        budget.reserve("b")


def test_a_server_rate_of_zero_is_fatal(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("5/min"))
    budget.adopt_rates((Rate(0, 60.0, "0/min"),))
    with pytest.raises(BlockedError):
        budget.reserve("a")


def test_headroom_that_leaves_no_call_is_a_config_error(budget_engine: Engine, key: str) -> None:
    with pytest.raises(ConfigError):
        Budget(budget_engine, key, parse_rates("1/min"), headroom=0.5)


def external_rows(engine: Engine, key: str) -> list[tuple[datetime, int]]:
    L = api_call_ledger
    with engine.begin() as conn:
        found = conn.execute(
            select(L.c.reserved_at, L.c.weight)
            .where(L.c.budget_key == key, L.c.outcome == "external")
            .order_by(L.c.seq)
        ).all()
    return [(t, int(w)) for t, w in found]


def test_reconcile_fills_the_ledger_up_to_the_servers_count(
    budget_engine: Engine, key: str
) -> None:
    budget = Budget(budget_engine, key, parse_rates("20/min,100/hour"), safety_margin=1.0)
    ours = budget.reserve("ours")
    budget.report(ours, CallReport(status=200, outcome="ok", duration_ms=1.0))
    now = db_now(budget_engine)
    server = usage(
        ("10/min", 4, 60, now + timedelta(seconds=30)),
        ("50/hour", 9, 3600, now + timedelta(seconds=1800)),
    )
    assert budget.reconcile(server) == 3 + 5
    after = db_now(budget_engine)  # the reconciliation read its clock between the two
    per_min, per_hour = budget.usage()  # the server's tighter rates are now in force
    assert (per_min.rate, per_hour.rate, per_hour.used) == ("10/min", "50/hour", 9)
    # Each window's oldest call exactly, the rest as late as the server allows: the
    # minute's at the reconciliation, the hour's beyond the minute just outside it.
    ext = external_rows(budget_engine, key)
    assert [w for _, w in ext] == [1, 4, 1, 2]
    (hour_oldest, _), (hour_rest, _), (min_oldest, _), (min_rest, _) = ext
    assert hour_oldest.timestamp() == pytest.approx(
        (now - timedelta(seconds=1800)).timestamp(), abs=0.01
    )
    assert min_oldest.timestamp() == pytest.approx(
        (now - timedelta(seconds=30)).timestamp(), abs=0.01
    )
    assert now - timedelta(seconds=60) <= hour_rest <= after - timedelta(seconds=60)
    assert now <= min_rest <= after
    assert budget.reconcile(server) == 0  # idempotent: the same calls, placed again
    assert len(external_rows(budget_engine, key)) == 4
    later = Budget(budget_engine, key, parse_rates("20/min,100/hour"))
    assert [w.rate for w in later.usage()] == ["10/min", "50/hour"]


def test_reconciled_rows_expire_at_the_servers_reset(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("3/min"), safety_margin=0.5, max_sleep=0.0)
    reset_at = db_now(budget_engine) + timedelta(seconds=20)
    budget.reconcile(usage(("3/min", 3, 60, reset_at)))
    with pytest.raises(BudgetExhaustedError) as caught:
        budget.reserve("a")
    # The server's oldest call (not ours) is placed exactly: room at its reset, + margin.
    assert caught.value.available_at == pytest.approx(reset_at.timestamp() + 0.5, abs=0.01)


def test_from_settings_uses_the_token_hash_and_limits(budget_engine: Engine) -> None:
    settings = Settings(
        token=Secret("ab" * 20),
        rates=parse_rates("7/min"),
        headroom=0.2,
        safety_margin=0.3,
        max_sleep=9.0,
    )
    budget = Budget.from_settings(settings, budget_engine, run_id="r1", dag_id="d")
    assert budget.key == settings.budget_key and "ab" * 20 not in repr(budget)
    assert [(r.limit, r.period) for r in budget.rates] == [(5, 60.0)]
    assert (budget.margin, budget.max_sleep, budget.run_id) == (0.3, 9.0, "r1")


def test_purge_keeps_what_the_windows_need(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("2/hour"), max_sleep=0.0)
    budget.reserve("a")
    assert budget.purge(retention_seconds=0.0) == 0  # the hour window still needs the row
    budget.reserve("b")
    with pytest.raises(BudgetExhaustedError):
        budget.reserve("c")
    assert budget.rollup() >= 1


def test_usage_says_room_now_on_the_databases_clock(budget_engine: Engine, key: str) -> None:
    budget = Budget(budget_engine, key, parse_rates("2/min"), max_sleep=0.0)
    first = budget.reserve("a")
    assert [w.room_now for w in budget.usage()] == [True]  # not "in 0.0s"
    budget.reserve("b")
    (full,) = budget.usage()
    assert not full.room_now and full.available_at >= first.reserved_at + 60.0


def test_a_full_ledger_holding_usage_elsewhere_asks_again_and_gets_room_back(
    budget_engine: Engine, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Usage elsewhere is placed late on purpose; a fresh view gives the room back."""
    from courtflow.budget import budget as budget_module
    from courtflow.budget import usage_sync

    monkeypatch.setattr(budget_module, "RESYNC_SECONDS", 0.0)
    monkeypatch.setattr(usage_sync, "FRESH_SECONDS", 0.0)
    now = db_now(budget_engine)
    answers = [
        usage(("10/hour", 9, 3600, now + timedelta(seconds=1800))),
        usage(("10/hour", 0, 3600, None)),  # later: the calls made elsewhere are gone
    ]
    budget = Budget(budget_engine, key, parse_rates("10/hour"), safety_margin=0.1, max_sleep=0.0)
    budget.usage_source = lambda: answers.pop(0) if len(answers) > 1 else answers[0]
    assert budget.sync_with_server() == 9
    budget.reserve("a")  # the tenth call of the hour
    tickets = [budget.reserve("b") for _ in range(9)]  # room again after one more look
    assert len(tickets) == 9 and answers and len(answers) == 1
