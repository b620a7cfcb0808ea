"""Processes released together and stopped at one deadline."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from courtflow.sandbox.lockstep import DeadlineReached, Lockstep, run_in_lockstep


def count_until_deadline(pause: float, run: Lockstep) -> list[tuple[int, float, float, int]]:
    time.sleep(0.2 if os.getpid() % 2 else 0.0)  # processes get ready at different times
    seen: list[tuple[int, float, float, int]] = []

    def caller() -> None:
        began, loops = time.time(), 0
        try:
            while not run.over():
                run.sleep(pause)
                loops += 1
        except DeadlineReached:
            pass
        seen.append((os.getpid(), began, time.time(), loops))

    run.run_threads([caller, caller])
    return seen


def fail_after_start(job: None, run: Lockstep) -> None:
    run.wait_for_start()
    raise ValueError("boom after the start")


def fail_in_set_up(job: None, run: Lockstep) -> None:
    raise ValueError("boom in set-up")


def test_processes_start_together_and_stop_at_the_deadline() -> None:
    start, results = run_in_lockstep(count_until_deadline, 0.05, processes=2, seconds=0.5)
    callers = [caller for process in results for caller in process]
    assert len(callers) == 4 and len({pid for pid, *_ in callers}) == 2
    for _, began, ended, loops in callers:
        assert start <= began < start + 0.3  # released by the same signal
        assert ended <= start + 0.5 + 0.2  # a sleep past the deadline is not taken
        assert loops >= 3


@pytest.mark.parametrize(
    ("worker", "error"),
    [(fail_after_start, "boom after the start"), (fail_in_set_up, "boom in set-up")],
)
def test_a_failing_process_is_reported_at_once(worker: Any, error: str) -> None:
    began = time.monotonic()
    with pytest.raises(RuntimeError, match=f"a load process failed: ValueError: {error}"):
        run_in_lockstep(worker, None, processes=2, seconds=0.2)
    assert time.monotonic() - began < 30  # not the 120 s timeouts
