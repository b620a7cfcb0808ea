"""plan's budget time: from every window's usage, limited by the slowest window."""

from __future__ import annotations

from dataclasses import dataclass

from courtflow.run.plan import fmt_seconds, plan_calls

NOW = 1_000_000.0


@dataclass(frozen=True)
class U:
    rate: str
    used: int
    limit: int
    remaining: int
    available_at: float = NOW


def test_22_calls_at_5000_per_hour_need_no_budget_time() -> None:
    est = plan_calls(22, [U("5000/hour", 1, 5000, 4999)], NOW)
    assert est.wait_seconds == 0 and est.room_now and est.slowest is None


def test_the_slowest_window_given_its_room_decides() -> None:
    usage = [U("10/10s", 0, 10, 10), U("40/60s", 35, 40, 5), U("5000/hour", 35, 5000, 4965)]
    est = plan_calls(22, usage, NOW)
    short, minute, hour = est.windows
    assert short.wait_seconds == 20  # 12 more after the first 10: two more periods
    assert minute.wait_seconds == 60  # 17 more than its room: one period
    assert hour.wait_seconds == 0
    assert est.wait_seconds == 60 and est.slowest == minute


def test_external_usage_counts_and_a_full_window_waits_for_its_first_room() -> None:
    full = U("50/hour", 50, 50, 0, available_at=NOW + 1500)
    est = plan_calls(10, [full], NOW)
    (w,) = est.windows
    assert w.first_room_in == 1500 and not est.room_now
    assert w.wait_seconds == 3600  # 10 calls once the window's calls have expired


def test_durations_read_as_people_say_them() -> None:
    assert [fmt_seconds(s) for s in (0.2, 59, 60, 3725, 200_000)] == [
        "1s", "59s", "1m 00s", "1h 02m", "2d 7h"]  # fmt: skip
