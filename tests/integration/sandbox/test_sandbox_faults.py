"""Seeded fault injection over HTTP: reproducible, and every admitted fault costs quota."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from courtflow.sandbox import DEMO_TOKEN, FaultConfig, start_sandbox

pytestmark = pytest.mark.timeout(60)

MIXED = {"p_500": 0.15, "p_502": 0.05, "p_503": 0.1, "p_reset": 0.1, "p_truncated": 0.1,
         "p_invalid_json": 0.1, "p_429_burst": 0.05, "burst_length": 2}  # fmt: skip


def outcome(client: httpx.Client, url: str) -> str:
    try:
        response = client.get(url, params={"order_by": "id"})
    except httpx.TransportError as exc:
        return type(exc).__name__
    if response.status_code != 200:
        return str(response.status_code)
    try:
        json.loads(response.content)
    except ValueError:
        return "invalid_json"
    return "200"


def run(make_config: Any, faults: FaultConfig, n: int = 40) -> tuple[list[str], dict[str, Any]]:
    with start_sandbox(make_config(faults=faults)) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        with httpx.Client(headers=headers, timeout=5.0) as client:
            outcomes = [outcome(client, f"{sandbox.url}/dockets/") for _ in range(n)]
        return outcomes, sandbox.stats()


def test_the_same_seed_gives_the_same_faults_in_the_same_order(make_config: Any) -> None:
    first, _ = run(make_config, FaultConfig(seed=3, **MIXED))
    second, _ = run(make_config, FaultConfig(seed=3, **MIXED))
    other, _ = run(make_config, FaultConfig(seed=4, **MIXED))
    assert first == second
    assert first != other
    assert {"200", "500", "503", "429", "invalid_json"} <= set(first)
    assert any(o not in {"200", "500", "502", "503", "429", "invalid_json"} for o in first)


def test_faulted_requests_are_admitted_and_bursts_are_not(make_config: Any) -> None:
    outcomes, stats = run(make_config, FaultConfig(seed=3, **MIXED))
    bursts = outcomes.count("429")
    assert stats["admitted"] == len(outcomes) - bursts
    assert stats["throttled"] == bursts > 0


def test_a_burst_answers_429_with_the_configured_retry_after(make_config: Any) -> None:
    faults = FaultConfig(seed=1, p_429_burst=1.0, burst_retry_after=7, burst_length=3)
    with start_sandbox(make_config(faults=faults)) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        response = httpx.get(f"{sandbox.url}/dockets/", headers=headers)
        admitted = sandbox.stats()["admitted"]
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert admitted == 0


def test_a_slow_answer_outlasts_the_client_timeout_and_still_costs_quota(
    make_config: Any,
) -> None:
    faults = FaultConfig(seed=1, p_slow=1.0, slow_seconds=2.0)
    with start_sandbox(make_config(faults=faults)) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{sandbox.url}/dockets/", headers=headers, timeout=0.3)
        sandbox.set_faults(FaultConfig())
        assert httpx.get(f"{sandbox.url}/dockets/", headers=headers).status_code == 200
        assert sandbox.stats()["admitted"] == 2


def test_truncated_bodies_and_resets_break_the_transport(make_config: Any) -> None:
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    for fault, error in (
        ("p_truncated", httpx.RemoteProtocolError),
        ("p_reset", httpx.TransportError),
    ):
        with start_sandbox(make_config(faults=FaultConfig(**{fault: 1.0}))) as sandbox:
            with pytest.raises(error):
                httpx.get(f"{sandbox.url}/dockets/", headers=headers)
            assert sandbox.stats()["admitted"] == 1
