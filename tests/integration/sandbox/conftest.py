"""A sandbox on 127.0.0.1 (ephemeral port) and an authenticated HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox

SMALL = {"dockets": 400, "clusters": 120, "opinions": 120, "docket-entries": 60,
         "recap-documents": 60, "people": 40}  # fmt: skip
BLOCKED = "fedcba9876543210fedcba9876543210fedcba98"
OTHER = "1111111111111111111111111111111111111111"


def config(**changes: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "rates": ("100000/hour",),
        "tokens": (DEMO_TOKEN, OTHER),
        "blocked_tokens": (BLOCKED,),
        "seed": 5,
        "volumes": SMALL,
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2024, 3, 1, tzinfo=UTC),
    }
    values.update(changes)
    return SandboxConfig(**values)


def auth(token: str = DEMO_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(config()) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/", headers=auth(), timeout=10.0) as c:
        yield c


@pytest.fixture
def make_config() -> Any:
    """``make_config(**changes)``: the small test configuration with changes."""
    return config


@pytest.fixture
def tokens() -> dict[str, str]:
    return {"demo": DEMO_TOKEN, "other": OTHER, "blocked": BLOCKED}
