"""Fakes for client unit tests: a scripted HTTP server (httpx.MockTransport), a recording
gate, and a fake clock whose sleep advances time instead of waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from courtflow.client import CallReport, CourtListenerClient, Ticket
from courtflow.errors import BudgetExhaustedError

TOKEN = "0123456789abcdef0123456789abcdef01234567"
BASE = "https://cl.test/api/rest/v4"

Reply = httpx.Response | BaseException | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


@dataclass
class RecordingGate:
    clock: FakeClock
    fail_on_reserve: int | None = None  # raise BudgetExhaustedError on this reserve (1-based)
    reserved: list[tuple[str, float]] = field(default_factory=list)
    reports: list[tuple[Ticket, CallReport]] = field(default_factory=list)
    throttles: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def reserve(self, endpoint: str) -> Ticket:
        if self.fail_on_reserve is not None and len(self.reserved) + 1 == self.fail_on_reserve:
            raise BudgetExhaustedError("budget exhausted", available_at=5000.0, wait_seconds=3600)
        self.reserved.append((endpoint, self.clock.now))
        self.events.append("reserve")
        return Ticket(endpoint=endpoint, reserved_at=time.time(), call_id=len(self.reserved))

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.reports.append((ticket, report))
        self.events.append("report")

    def throttled(self, retry_after: float) -> None:
        self.throttles.append(retry_after)
        self.events.append("throttled")


class Server:
    """Answers requests from a script (in order) or a handler; records what it received."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.script: list[Reply] = []
        self.handler: Callable[[httpx.Request], httpx.Response] | None = None
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.clock.now)
        if self.script:
            reply = self.script.pop(0)
        elif self.handler is not None:
            reply = self.handler
        else:
            raise AssertionError(f"unexpected request {request.url}")
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


@dataclass
class Harness:
    server: Server
    gate: RecordingGate
    clock: FakeClock
    client: CourtListenerClient


def page(results: list[dict[str, Any]], next_url: str | None, count: Any = None) -> httpx.Response:
    body: dict[str, Any] = {"count": count, "next": next_url, "previous": None, "results": results}
    return httpx.Response(200, json=body)


