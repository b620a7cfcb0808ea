"""The fault plan: one seeded draw per request, bursts that last their length."""

from __future__ import annotations

import itertools

import pytest

from courtflow.errors import ConfigError
from courtflow.sandbox.config import FaultConfig
from courtflow.sandbox.faults import Fault, FaultPlan


def draws(config: FaultConfig, n: int, key: str = "k") -> list[Fault]:
    plan = FaultPlan(config)
    return [plan.draw(key) for _ in range(n)]


def test_a_seed_fixes_the_sequence_and_reconfiguring_restarts_it() -> None:
    config = FaultConfig(seed=9, p_500=0.2, p_reset=0.2, p_truncated=0.1)
    assert draws(config, 100) == draws(config, 100)
    assert draws(config, 100) != draws(FaultConfig(seed=10, p_500=0.2, p_reset=0.2), 100)
    plan = FaultPlan(config)
    first = [plan.draw("k") for _ in range(20)]
    plan.configure(config)
    assert [plan.draw("k") for _ in range(20)] == first


def test_frequencies_follow_the_probabilities() -> None:
    seen = draws(FaultConfig(seed=1, p_500=0.3, p_503=0.1), 5000)
    assert 0.27 < seen.count(Fault.HTTP_500) / 5000 < 0.33
    assert 0.08 < seen.count(Fault.HTTP_503) / 5000 < 0.12
    assert set(seen) == {Fault.NONE, Fault.HTTP_500, Fault.HTTP_503}


def test_every_burst_refuses_at_least_its_length_in_a_row() -> None:
    seen = draws(FaultConfig(seed=5, p_429_burst=0.2, burst_length=3), 400)
    runs = [
        len(list(g))
        for burst, g in itertools.groupby(seen, lambda f: f is Fault.BURST_429)
        if burst
    ]
    assert runs and min(runs) >= 3


def test_a_burst_belongs_to_one_token() -> None:
    plan = FaultPlan(FaultConfig(seed=2, p_429_burst=0.3, burst_length=4))
    pairs = [(plan.draw("a"), plan.draw("b")) for _ in range(200)]
    # Right after "a" opens a burst, "b" still gets requests through.
    assert any(
        a is Fault.BURST_429 and b is Fault.NONE and (k == 0 or pairs[k - 1][0] is Fault.NONE)
        for k, (a, b) in enumerate(pairs)
    )
    runs_a = [
        len(list(g))
        for burst, g in itertools.groupby(
            (a for a, _ in pairs[:-4]), lambda f: f is Fault.BURST_429
        )
        if burst
    ]
    assert runs_a and min(runs_a) >= 4


def test_no_faults_configured_means_none_ever() -> None:
    assert set(draws(FaultConfig(), 50)) == {Fault.NONE}


@pytest.mark.parametrize(
    "changes", [{"p_500": 1.5}, {"p_500": 0.6, "p_502": 0.6}, {"burst_length": 0}]
)
def test_invalid_fault_settings_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FaultConfig(**changes)  # type: ignore[arg-type]
