"""Client unit-test fixture: a client wired to a scripted server, a recording gate, a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from client_fakes import BASE, TOKEN, FakeClock, Harness, RecordingGate, Server

from courtflow.client import CourtListenerClient, RetryPolicy
from courtflow.config import Settings
from courtflow.redact import Secret


@pytest.fixture
def make_harness() -> Iterator[Callable[..., Harness]]:
    clients: list[CourtListenerClient] = []

    def build(*, token: bool = True, gate: bool = True, **overrides: Any) -> Harness:
        clock = FakeClock()
        server = Server(clock)
        settings = Settings(
            base_url=BASE, token=Secret(TOKEN) if token else None, max_attempts=3, max_sleep=60.0
        ).with_overrides(**overrides)
        recording = RecordingGate(clock)
        client = CourtListenerClient(
            settings,
            recording if gate else None,
            transport=httpx.MockTransport(server),
            sleep=clock.sleep,
            retry=RetryPolicy(attempts=settings.max_attempts, initial=0.5, max=4.0, jitter=0.1),
            clock=clock,
        )
        clients.append(client)
        return Harness(server=server, gate=recording, clock=clock, client=client)

    yield build
    for client in clients:
        client.close()
