"""The ledger on real databases: reservations, blocks, server rates, external rows, roll-up."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, select

from courtflow.budget import ledger, retention, seqlog
from courtflow.budget.ledger import Reservation
from courtflow.budget.rates import Rate, parse_rates
from courtflow.budget.tables import api_call_ledger, api_call_metrics
from courtflow.client.gate import CallReport

HOUR = Rate(3, 3600.0, "3/hour")


def reserve(
    engine: Engine,
    key: str,
    rates: list[Rate] | tuple[Rate, ...],
    margin: float = 0.0,
    **kw: object,
) -> Reservation:
    with engine.begin() as conn:
        return ledger.try_reserve(conn, key, rates, margin, "dockets/", **kw)  # type: ignore[arg-type]


def rows(engine: Engine, key: str) -> list[tuple[int, float, str | None]]:
    """(seq, reserved_at epoch, outcome) in seq order."""
    L = api_call_ledger
    with engine.begin() as conn:
        found = conn.execute(
            select(L.c.seq, L.c.reserved_at, L.c.outcome)
            .where(L.c.budget_key == key)
            .order_by(L.c.seq)
        ).all()
    return [(int(s), t.timestamp(), o) for s, t, o in found]


def weights(engine: Engine, key: str) -> list[int]:
    L = api_call_ledger
    with engine.begin() as conn:
        found = conn.execute(select(L.c.weight).where(L.c.budget_key == key).order_by(L.c.seq))
        return [int(w) for (w,) in found]


def assert_log_is_ordered(engine: Engine, key: str) -> None:
    """seq counts calls: each row's is the previous one's plus its weight; time order."""
    found = rows(engine, key)
    seqs, calls = [s for s, _, _ in found], weights(engine, key)
    assert all(seqs[i] == seqs[i - 1] + calls[i] for i in range(1, len(seqs)))
    stamps = [t for _, t, _ in found]
    assert stamps == sorted(stamps)


def test_reserves_up_to_the_limit_then_names_the_moment_room_appears(
    budget_engine: Engine, key: str
) -> None:
    granted = [reserve(budget_engine, key, [HOUR], margin=0.5) for _ in range(3)]
    assert all(r.granted and r.call_id is not None for r in granted)
    refused = reserve(budget_engine, key, [HOUR], margin=0.5)
    assert not refused.granted and refused.call_id is None
    first = rows(budget_engine, key)[0][1]
    assert refused.available_at == pytest.approx(first + 3600.5, abs=1e-3)
    assert refused.wait == pytest.approx(refused.available_at - refused.now)
    assert len(rows(budget_engine, key)) == 3  # a refusal writes nothing


def test_every_rate_is_checked_and_the_latest_opening_wins(budget_engine: Engine, key: str) -> None:
    rates = [Rate(5, 3600.0, "5/hour"), Rate(2, 7200.0, "2/2h")]
    assert reserve(budget_engine, key, rates).granted
    assert reserve(budget_engine, key, rates).granted
    refused = reserve(budget_engine, key, rates)
    first = rows(budget_engine, key)[0][1]
    assert not refused.granted
    assert refused.available_at == pytest.approx(first + 7200.0, abs=1e-3)


def test_keys_do_not_share_windows(budget_engine: Engine, key: str) -> None:
    one = [Rate(1, 3600.0, "1/hour")]
    assert reserve(budget_engine, key, one).granted
    assert reserve(budget_engine, key + ":other", one).granted
    assert not reserve(budget_engine, key, one).granted


def test_a_rate_of_zero_never_grants(budget_engine: Engine, key: str) -> None:
    refused = reserve(budget_engine, key, [Rate(0, 60.0, "0/min")])
    assert not refused.granted and refused.available_at == math.inf


def test_a_block_holds_every_caller_and_is_never_shortened(budget_engine: Engine, key: str) -> None:
    with budget_engine.begin() as conn:
        now = ledger.db_now(conn)
        until = ledger.block(conn, key, now + timedelta(seconds=120), "429")
        kept = ledger.block(conn, key, now + timedelta(seconds=5), "earlier 429")
    assert kept == until
    refused = reserve(budget_engine, key, [HOUR])
    assert not refused.granted
    assert refused.available_at == pytest.approx(until.timestamp(), abs=1e-3)
    with budget_engine.begin() as conn:
        assert ledger.read_state(conn, key)[1] == until


def test_an_expired_block_lets_calls_go(budget_engine: Engine, key: str) -> None:
    with budget_engine.begin() as conn:
        ledger.block(conn, key, ledger.db_now(conn) - timedelta(seconds=1), "old")
    assert reserve(budget_engine, key, [HOUR]).granted


def test_record_keeps_the_outcome_of_a_reserved_call(budget_engine: Engine, key: str) -> None:
    r = reserve(budget_engine, key, [HOUR])
    assert r.call_id is not None
    with budget_engine.begin() as conn:
        ledger.record(
            conn, r.call_id, CallReport(status=429, outcome="throttled", duration_ms=12.5)
        )
    assert rows(budget_engine, key)[0][2] == "throttled"


@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_a_slow_call_counts_from_its_report_less_the_margin(
    budget_engine: Engine, key: str, margin: float
) -> None:
    """The server saw the call between reservation and report; the margin covers the way."""
    per_second = [Rate(1, 1.0, "1/s")]
    r = reserve(budget_engine, key, per_second, margin)
    assert r.call_id is not None
    time.sleep(0.3)
    with budget_engine.begin() as conn:
        ledger.record(conn, r.call_id, CallReport(status=200, outcome="ok", duration_ms=300.0))
    with budget_engine.begin() as conn:  # the stamp itself: a second clock reading is later
        L = api_call_ledger
        stamp = conn.execute(select(L.c.reported_at).where(L.c.id == r.call_id)).scalar_one()
    reported = stamp.timestamp()
    refused = reserve(budget_engine, key, per_second, margin)
    assert not refused.granted
    # Free at max(reserved + period + margin, reported + period).
    expected = max(r.now + 1.0 + margin, reported + 1.0)
    assert refused.available_at == pytest.approx(expected, abs=1e-3)


def test_server_rates_stored_by_one_worker_bind_every_worker(
    budget_engine: Engine, key: str
) -> None:
    with budget_engine.begin() as conn:
        ledger.set_server_rates(conn, key, parse_rates("1/hour"))
    # A caller that never heard of them (server_rates=None) still obeys them.
    first = reserve(budget_engine, key, [HOUR], server_headroom=0.0)
    second = reserve(budget_engine, key, [HOUR], server_headroom=0.0)
    assert first.granted and not second.granted
    assert second.server_rates == "1/hour"
    assert [r.text for r in second.rates] == ["1/hour"]
    # Without server_headroom the stored rates are not enforced.
    assert reserve(budget_engine, key, [HOUR]).granted


def test_reservations_are_stamped_with_the_database_clock(budget_engine: Engine, key: str) -> None:
    with budget_engine.begin() as conn:
        before = ledger.db_now(conn).timestamp()
    r = reserve(budget_engine, key, [HOUR])
    with budget_engine.begin() as conn:
        after = ledger.db_now(conn).timestamp()
    assert before <= r.now <= after
    assert rows(budget_engine, key)[0][1] == pytest.approx(r.now, abs=1e-6)


def test_sessions_in_other_time_zones_reach_the_same_decisions(pg_engine: Engine, key: str) -> None:
    zones = [
        create_engine(pg_engine.url, connect_args={"options": f"-c TimeZone={zone}"})
        for zone in ("UTC", "America/Los_Angeles", "Asia/Kolkata")
    ]
    try:
        results = [reserve(zones[i % 3], key, [Rate(4, 3600.0, "4/hour")]) for i in range(7)]
    finally:
        for e in zones:
            e.dispose()
    assert [r.granted for r in results] == [True] * 4 + [False] * 3
    first = rows(pg_engine, key)[0][1]
    assert {round(r.available_at - first, 3) for r in results[4:]} == {3600.0}


def test_external_rows_slot_in_by_time_and_keep_seq_cumulative(
    budget_engine: Engine, key: str
) -> None:
    for _ in range(3):
        assert reserve(budget_engine, key, [Rate(100, 3600.0, "100/hour")]).granted
        time.sleep(0.01)
    stamps = [t for _, t, _ in rows(budget_engine, key)]
    with budget_engine.begin() as conn:
        ledger.lock_key(conn, key)
        seqlog.insert_external(conn, key, ledger.at((stamps[0] + stamps[1]) / 2), 2)
        seqlog.insert_external(conn, key, ledger.at(stamps[0] - 60), 1)
    found = rows(budget_engine, key)
    assert [o for _, _, o in found] == ["external", "reserved", "external", "reserved", "reserved"]
    assert weights(budget_engine, key) == [1, 1, 2, 1, 1]  # one row for two calls
    assert [s for s, _, _ in found] == [1, 2, 4, 5, 6]
    assert_log_is_ordered(budget_engine, key)
    # The N-th newest lookups see the new rows: 6 calls now hold a 6/hour window full.
    assert not reserve(budget_engine, key, [Rate(6, 3600.0, "6/hour")]).granted
    with budget_engine.begin() as conn:
        assert seqlog.count_since(conn, key, ledger.at(stamps[0] - 1)) == 5
        assert seqlog.count_since(conn, key, ledger.at(stamps[0] - 3600)) == 6
        assert seqlog.count_since(conn, key, ledger.at(stamps[2])) == 0


def test_external_rows_in_an_empty_log(budget_engine: Engine, key: str) -> None:
    with budget_engine.begin() as conn:
        ledger.lock_key(conn, key)
        seqlog.insert_external(conn, key, ledger.db_now(conn) - timedelta(seconds=10), 3)
    assert [s for s, _, _ in rows(budget_engine, key)] == [3]
    assert not reserve(budget_engine, key, [HOUR]).granted
    assert reserve(budget_engine, key, [Rate(4, 3600.0, "4/hour")]).granted


def test_rollup_recomputes_hours_idempotently(budget_engine: Engine, key: str) -> None:
    with budget_engine.begin() as conn:
        now = ledger.db_now(conn)
        seqlog.insert_external(conn, key, now - timedelta(hours=3), 2)
    r = reserve(budget_engine, key, [Rate(100, 60.0, "100/min")])
    reserve(budget_engine, key, [Rate(100, 60.0, "100/min")])
    assert r.call_id is not None
    with budget_engine.begin() as conn:
        ledger.record(conn, r.call_id, CallReport(status=429, outcome="throttled", duration_ms=3.0))
    for _ in range(2):  # twice: the same table
        with budget_engine.begin() as conn:
            retention.rollup(conn, key=key)
    assert metrics(budget_engine, key) == [(0, 0, 2), (2, 1, 0)]


def metrics(engine: Engine, key: str) -> list[tuple[int, int, int]]:
    M = api_call_metrics
    with engine.begin() as conn:
        found = conn.execute(
            select(M.c.call_count, M.c.throttled_count, M.c.external_count)
            .where(M.c.api_name == key)
            .order_by(M.c.timestamp_hour)
        ).all()
    return [tuple(int(v) for v in row) for row in found]  # type: ignore[misc]


def test_purge_rolls_up_then_drops_old_hours_and_keeps_the_windows(
    budget_engine: Engine, key: str
) -> None:
    with budget_engine.begin() as conn:
        now = ledger.db_now(conn)
        ledger.lock_key(conn, key)
        seqlog.insert_external(conn, key, now - timedelta(hours=5), 4)
        seqlog.insert_external(conn, key, now - timedelta(minutes=1), 1)
    with budget_engine.begin() as conn:
        deleted = retention.purge(conn, 2 * 3600.0, key=key)
    assert deleted == 1  # one row of four calls
    assert [o for _, _, o in rows(budget_engine, key)] == ["external"]
    assert_log_is_ordered(budget_engine, key)
    assert metrics(budget_engine, key)[0] == (0, 0, 4)  # the purged hour stays on the dashboard
    with budget_engine.begin() as conn:
        retention.rollup(conn, key=key)  # recomputing what is left leaves the old hour alone
    assert metrics(budget_engine, key)[0] == (0, 0, 4)
    assert reserve(budget_engine, key, [Rate(2, 3600.0, "2/hour")]).granted
    assert not reserve(budget_engine, key, [Rate(2, 3600.0, "2/hour")]).granted
