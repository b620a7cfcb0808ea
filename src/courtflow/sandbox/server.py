"""Start, inspect, steer and stop the sandbox server.

>>> with start_sandbox(SandboxConfig(rates=("20/2s",))) as sandbox:  # doctest: +SKIP
...     sandbox.url            # "http://127.0.0.1:PORT/api/rest/v4"
...     sandbox.touch("dockets", [1000], datetime.now(UTC))
...     sandbox.stats()["admitted"]
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from courtflow.budget.rates import Rate, parse_rates
from courtflow.sandbox.config import FaultConfig, SandboxConfig
from courtflow.sandbox.faults import CycleMemory, FaultPlan
from courtflow.sandbox.handler import PREFIX, SandboxHandler, log
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.throttle import SlidingLogThrottle
from courtflow.sandbox.timefmt import local_day


def token_label(token: str | None) -> str:
    """How stats name a token: the same hash as ``Settings.budget_key``, never the token."""
    if token is None:
        return "anonymous"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class SandboxState:
    """Everything the request handlers share, and the hooks tests use to steer it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.data = Dataset(config)
        self.throttle = SlidingLogThrottle(
            parse_rates(config.rates), blocked=config.blocked_tokens, day_of=local_day
        )
        self.usage_throttle = SlidingLogThrottle(parse_rates(config.api_usage_rates))
        self.faults = FaultPlan(config.faults)
        self.cycles = CycleMemory()
        self.latency = config.latency_ms / 1000.0
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self._tokens = frozenset(config.tokens) | frozenset(config.blocked_tokens)
        self._lock = threading.Lock()
        self._statuses: Counter[str] = Counter()
        self._throttled = 0
        self._per_token: dict[str, Counter[str]] = {}

    def accepts(self, token: str) -> bool:
        return token in self._tokens

    def record(self, token: str | None, status: str, *, throttled: bool = False,
               usage: bool = False) -> None:  # fmt: skip
        with self._lock:
            self._statuses[status] += 1
            self._throttled += throttled
            if token is not None:
                counter = self._per_token.setdefault(token_label(token), Counter())
                counter["throttled" if throttled else "usage" if usage else "answered"] += 1

    # -- test hooks ------------------------------------------------------------------
    def touch(self, resource: str, ids: Iterable[Any], when: datetime | None = None) -> int:
        """Move records' ``date_modified`` to ``when`` (default now) and revise them."""
        return self.data.touch(resource, ids, when)

    def delete(self, resource: str, ids: Iterable[Any]) -> list[Any]:
        """Delete records (hard delete, as the server does); returns the ids deleted."""
        return self.data.delete(resource, ids)

    def insert(self, resource: str, n: int, when: datetime | None = None) -> list[int]:
        """Create ``n`` records modified at ``when`` (default now); returns their ids."""
        return self.data.insert(resource, n, when)

    def reset_throttle(self) -> None:
        self.throttle.reset()
        self.usage_throttle.reset()

    def set_rates(
        self, rates: str | Sequence[str] | Sequence[Rate], token: str | None = None
    ) -> None:
        """Change the limits now, for every token or one (someone changed the plan)."""
        self.throttle.set_rates(rates, token)

    def set_faults(self, faults: FaultConfig) -> None:
        self.faults.configure(faults)
        self.cycles = CycleMemory()  # a new configuration loops within its own walks

    def set_latency(self, milliseconds: float) -> None:
        self.latency = max(0.0, milliseconds) / 1000.0

    def add_usage(self, token: str, n: int) -> None:
        """Record ``n`` admitted requests made elsewhere with ``token``."""
        self.throttle.add_usage(token, n)

    def admissions(self, token: str) -> list[float]:
        """Epoch times of every admitted request of ``token`` (the server's own log)."""
        return self.throttle.admissions(token)

    def decisions(self, token: str) -> list[tuple[float, bool]]:
        return self.throttle.decisions(token)

    def stats(self) -> dict[str, Any]:
        """``admitted`` (quota spent), ``throttled`` (429s of the main quota, bursts
        included), ``per_token`` (by :func:`token_label`: admitted, throttled, api_usage
        calls) and ``per_status`` (every answer by status; ``reset`` for dropped
        connections, ``<status>-truncated`` for cut bodies)."""
        counts = self.throttle.counts()
        with self._lock:
            labels = {token_label(t) for t in counts} | set(self._per_token)
            per_token = {label: {"admitted": 0, "throttled": 0, "api_usage": 0} for label in labels}
            for token, (admitted, _) in counts.items():
                per_token[token_label(token)]["admitted"] = admitted
            for label, counter in self._per_token.items():
                per_token[label]["throttled"] = counter["throttled"]
                per_token[label]["api_usage"] = counter["usage"]
            return {
                "admitted": sum(a for a, _ in counts.values()),
                "throttled": self._throttled,
                "per_token": per_token,
                "per_status": dict(self._statuses),
            }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        super().__init__(address, SandboxHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-response are normal here: stay quiet.
        log.debug("sandbox: connection error", exc_info=True)


class RunningSandbox:
    """A sandbox serving in a background thread; a context manager that stops it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.state: SandboxState = server.state
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}{PREFIX.rstrip('/')}"

    # Convenience delegates to the state's hooks.
    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def touch(self, resource: str, ids: Iterable[Any], when: datetime | None = None) -> int:
        return self.state.touch(resource, ids, when)

    def delete(self, resource: str, ids: Iterable[Any]) -> list[Any]:
        return self.state.delete(resource, ids)

    def insert(self, resource: str, n: int, when: datetime | None = None) -> list[int]:
        return self.state.insert(resource, n, when)

    def reset_throttle(self) -> None:
        self.state.reset_throttle()

    def set_rates(
        self, rates: str | Sequence[str] | Sequence[Rate], token: str | None = None
    ) -> None:
        self.state.set_rates(rates, token)

    def set_faults(self, faults: FaultConfig) -> None:
        self.state.set_faults(faults)

    def add_usage(self, token: str, n: int) -> None:
        self.state.add_usage(token, n)

    def stop(self) -> None:
        """Stop accepting, wake sleeping handlers, close open connections."""
        if self.state.stopping.is_set():
            return
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self.state.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()


def start_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    """Build the data, bind, and serve in a daemon thread; returns once listening."""
    server = _Server((host, port), SandboxState(config))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2},
        name=f"courtflow-sandbox:{server.server_address[1]}", daemon=True,
    )  # fmt: skip
    thread.start()
    return RunningSandbox(server, thread)


def serve(
    config: SandboxConfig, host: str = "127.0.0.1", port: int = 0, *, announce: bool = True
) -> None:
    """Serve until interrupted (or orphaned); prints ``SANDBOX_URL=<url>`` once listening."""
    parent = os.getppid()
    sandbox = start_sandbox(config, host, port)
    try:
        if announce:
            print(f"SANDBOX_URL={sandbox.url}", flush=True)
        # A sandbox whose parent died (a crashed demo or test run) must not linger.
        while sandbox._thread.is_alive() and os.getppid() == parent:
            sandbox._thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        sys.stdout.flush()
