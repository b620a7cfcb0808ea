"""Processes released together and stopped at one deadline."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
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
    pause, seconds = 0.05, 0.5
    start, results = run_in_lockstep(count_until_deadline, pause, processes=2, seconds=seconds)
    callers = [caller for process in results for caller in process]
    assert len(callers) == 4 and len({pid for pid, *_ in callers}) == 2
    for _, began, ended, loops in callers:
        assert began >= start  # nobody starts before the release, however late it is ready
        assert ended >= start + seconds - pause  # nobody stops before the deadline is near
        assert loops >= 1


def test_a_sleep_past_the_deadline_is_refused_at_once() -> None:
    deadline = SimpleNamespace(value=time.time() + 60.0)
    run = Lockstep(ready=None, go=None, shared_deadline=deadline)
    run.sleep(0.0)
    assert not run.over()
    with pytest.raises(DeadlineReached):
        run.sleep(3600.0)  # would return after the deadline: raises without sleeping
    deadline.value = time.time() - 1.0
    assert run.over()


@pytest.mark.parametrize(
    ("worker", "error"),
    [(fail_after_start, "boom after the start"), (fail_in_set_up, "boom in set-up")],
)
def test_a_failing_process_is_reported_with_its_error(worker: Any, error: str) -> None:
    # Waiting out a timeout instead would raise queue.Empty, not this.
    with pytest.raises(RuntimeError, match=f"a load process failed: ValueError: {error}"):
        run_in_lockstep(worker, None, processes=2, seconds=0.2, ready_timeout=60, finish_timeout=60)
