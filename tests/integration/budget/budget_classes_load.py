"""Callers of several priority classes in several OS processes, for the class-order test.

Lives outside the test module so that ``spawn``-ed processes can import it by name. Each
thread waits for its class's start signal, then reserves one call through a real
:class:`Budget` and records when it was admitted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.store.engine import make_engine


@dataclass(frozen=True)
class ClassJob:
    db_url: str
    key: str
    rates: str
    classes: tuple[str, ...]  # one caller thread per entry


def poll_sleep(seconds: float) -> None:
    """Re-ask at least every 50 ms: the test makes room by hand, not by time passing."""
    time.sleep(min(seconds, 0.05))


def worker(job: ClassJob, starts: dict[str, Any], results: Any) -> None:
    engine = make_engine(job.db_url)
    admitted: list[tuple[str, int | None]] = []
    lock = threading.Lock()

    def caller(priority: str) -> None:
        budget = Budget(
            engine, job.key, parse_rates(job.rates), safety_margin=0.0,
            max_sleep=86_400.0, sleep=poll_sleep, priority=priority,
        )  # fmt: skip
        budget.next_available()  # connections warm before the start
        if not starts[priority].wait(120):
            raise TimeoutError(f"no start signal for {priority}")
        ticket = budget.reserve("dockets/")
        budget.close()  # done: give the claim between calls up at once
        with lock:
            admitted.append((priority, ticket.call_id))

    threads = [threading.Thread(target=caller, args=(c,)) for c in job.classes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    results.put(admitted)
