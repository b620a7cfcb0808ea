"""OS processes released together and stopped at one deadline: load on the sandbox.

The budget's concurrency tests and benchmarks drive several processes x threads at the
sandbox and compare what its throttle admitted with what the rates allow over the run.
That needs every process to start at the same moment (after its imports and
connections, which take seconds) and to stop at one shared deadline.

    start, results = run_in_lockstep(worker, job, processes=3, seconds=12.0)

``worker(job, lockstep)`` runs in each spawned process: it sets up, calls
``lockstep.wait_for_start()`` (or ``lockstep.run_threads(callers)``), works until
``lockstep.over()`` (or lets
``lockstep.sleep`` raise :class:`DeadlineReached`) and returns what it reports; the
worker must be a module-level function and its result picklable.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class DeadlineReached(Exception):
    """The run ends before the sleep asked for would."""


@dataclass(frozen=True)
class Lockstep:
    """The shared start signal and deadline, as one worker process sees them."""

    ready: Any  # multiprocessing queue: one item per process that is set up
    go: Any  # multiprocessing event: set once every process is ready
    shared_deadline: Any  # multiprocessing double: epoch seconds, set before ``go``

    def wait_for_start(self, timeout: float = 120.0) -> None:
        self.ready.put(1)
        if not self.go.wait(timeout):
            raise TimeoutError(f"the load run did not start within {timeout:g}s")

    def run_threads(self, callers: Sequence[Callable[[], None]]) -> None:
        """Wait for the start, then run each caller in its own thread until all return."""
        self.wait_for_start()
        threads = [threading.Thread(target=caller) for caller in callers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    @property
    def deadline(self) -> float:
        return float(self.shared_deadline.value)

    def over(self) -> bool:
        return time.time() >= self.deadline

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise :class:`DeadlineReached` if the run ends first."""
        if time.time() + seconds >= self.deadline:
            raise DeadlineReached
        time.sleep(seconds)


@dataclass(frozen=True)
class _Failed:
    error: str


def _process_main(
    worker: Callable[[J, Lockstep], R], job: J, lockstep: Lockstep, results: Any
) -> None:
    try:
        result = worker(job, lockstep)
    except BaseException as exc:
        # Tell the parent at once, whether it is waiting for "ready" or for results.
        failed = _Failed(f"{type(exc).__name__}: {exc}")
        lockstep.ready.put(failed)
        results.put(failed)
        raise
    results.put(result)


def _checked(item: Any) -> Any:
    if isinstance(item, _Failed):
        raise RuntimeError(f"a load process failed: {item.error}")
    return item


def run_in_lockstep(
    worker: Callable[[J, Lockstep], R],
    job: J,
    processes: int,
    seconds: float,
    *,
    ready_timeout: float = 120.0,
    finish_timeout: float = 120.0,
) -> tuple[float, list[R]]:
    """Run ``worker(job, lockstep)`` in ``processes`` spawned processes for ``seconds``.

    Returns the start time (epoch seconds) and each process's result. Raises
    ``RuntimeError`` naming the error as soon as a process fails; stragglers are killed.
    """
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    lockstep = Lockstep(ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0))
    procs = [
        ctx.Process(target=_process_main, args=(worker, job, lockstep, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            _checked(lockstep.ready.get(timeout=ready_timeout))
        start = time.time()
        lockstep.shared_deadline.value = start + seconds
        lockstep.go.set()
        out: list[R] = [_checked(results.get(timeout=seconds + finish_timeout)) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {processes} load processes exited with {failed}")
    return start, out
