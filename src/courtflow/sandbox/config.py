"""The sandbox's configuration: values only, validated when built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from courtflow.budget.rates import parse_rates
from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import ConfigError

# Obviously fake and fixed, so the demo and tests need no secret. Never a real account.
DEMO_TOKEN = "0123456789abcdef0123456789abcdef01234567"

# Resources that have synthetic records (courts come only from the fixtures): the
# pipeline's core ones, then the rest of the catalogue (courtflow.catalogue.resources).
CORE_RESOURCES: tuple[str, ...] = (
    "dockets",
    "clusters",
    "opinions",
    "docket-entries",
    "recap-documents",
    "people",
)
SYNTHETIC_RESOURCES: tuple[str, ...] = (
    *CORE_RESOURCES,
    *(name for name in RESOURCES if name != "courts" and name not in CORE_RESOURCES),
)
DEFAULT_VOLUME = 2000  # about 100 pages of 20 per resource
CATALOGUE_VOLUME = 200  # the other endpoints: ten pages each


def default_volume(resource: str) -> int:
    return DEFAULT_VOLUME if resource in CORE_RESOURCES else CATALOGUE_VOLUME


def _default_volumes() -> Mapping[str, int]:
    return MappingProxyType({name: default_volume(name) for name in SYNTHETIC_RESOURCES})


@dataclass(frozen=True)
class FaultConfig:
    """Seeded fault injection: each probability is per request, at most one fault each.

    ``p_429_burst`` answers 429 with ``Retry-After: burst_retry_after`` to this request
    and the following ``burst_length - 1`` requests of the same token (not admitted, as a
    real throttle). The other faults hit admitted requests, which keep costing quota.
    """

    seed: int = 0
    p_500: float = 0.0
    p_502: float = 0.0
    p_503: float = 0.0
    p_reset: float = 0.0  # close the connection (RST) without any response
    p_truncated: float = 0.0  # Content-Length larger than the body sent
    p_invalid_json: float = 0.0  # a 200 whose body is cut JSON (correctly framed)
    p_slow: float = 0.0
    slow_seconds: float = 30.0
    p_429_burst: float = 0.0
    burst_retry_after: int = 2
    burst_length: int = 3
    # A misbehaving server: 'next' back to the page served cycle_length - 1 requests ago
    # (a cursor loop of that length), a body trickled over trickle_seconds, a body padded
    # to huge_bytes.
    p_cycle: float = 0.0
    cycle_length: int = 2
    p_trickle: float = 0.0
    trickle_seconds: float = 5.0
    p_huge: float = 0.0
    huge_bytes: int = 8 * 1024 * 1024
    # Poison records, on every request that serves them: poison_ids carry a NUL in their
    # text, an integer beyond 64 bits and an impossible date (all storable by the rule of
    # courtflow.store.convert); broken_ids carry an unparsable date_modified (rejected).
    poison_ids: tuple[int, ...] = ()
    broken_ids: tuple[int, ...] = ()
    broken_every: int = 0  # also broken: every record whose id is a multiple of this

    def __post_init__(self) -> None:
        probabilities = self.probabilities()
        if any(not 0.0 <= p <= 1.0 for p in probabilities.values()):
            raise ConfigError("fault probabilities must be within [0, 1]")
        if sum(probabilities.values()) > 1.0 + 1e-9:
            raise ConfigError("fault probabilities must add up to at most 1")
        if self.slow_seconds < 0 or self.burst_retry_after < 0 or self.burst_length < 1:
            raise ConfigError("slow_seconds and burst_retry_after >= 0, burst_length >= 1")
        if self.cycle_length < 2 or self.trickle_seconds < 0 or self.huge_bytes < 0:
            raise ConfigError("cycle_length >= 2, trickle_seconds and huge_bytes >= 0")

    def probabilities(self) -> dict[str, float]:
        return {
            "500": self.p_500,
            "502": self.p_502,
            "503": self.p_503,
            "reset": self.p_reset,
            "truncated": self.p_truncated,
            "invalid_json": self.p_invalid_json,
            "slow": self.p_slow,
            "429_burst": self.p_429_burst,
            "cycle": self.p_cycle,
            "trickle": self.p_trickle,
            "huge": self.p_huge,
        }

    @property
    def enabled(self) -> bool:
        return any(p > 0.0 for p in self.probabilities().values()) or bool(
            self.poison_ids or self.broken_ids or self.broken_every
        )


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox serves and how it throttles.

    >>> cfg = SandboxConfig(rates=("20/2s", "150/20s"), volumes={"dockets": 5000})
    >>> with start_sandbox(cfg) as sandbox:  # doctest: +SKIP
    ...     httpx.get(sandbox.url + "/dockets/", headers={"Authorization": f"Token {DEMO_TOKEN}"})
    """

    rates: tuple[str, ...] = ("5000/hour",)
    tokens: tuple[str, ...] = (DEMO_TOKEN,)
    blocked_tokens: tuple[str, ...] = ()
    seed: int = 0
    volumes: Mapping[str, int] = field(default_factory=_default_volumes)
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    end: datetime = datetime(2024, 3, 1, tzinfo=UTC)
    faults: FaultConfig = field(default_factory=FaultConfig)
    latency_ms: float = 0.0
    api_usage_rates: tuple[str, ...] = ("10/min", "120/hour")
    # How 429s state their wait: "seconds" as the server does, or "http-date" (RFC 9110
    # allows it; a proxy or CDN in front of the server may rewrite the header so).
    retry_after_form: str = "seconds"

    def __post_init__(self) -> None:
        parse_rates(self.rates)
        parse_rates(self.api_usage_rates)
        unknown = set(self.volumes) - set(SYNTHETIC_RESOURCES)
        if unknown:
            raise ConfigError(
                f"unknown sandbox volume(s) {sorted(unknown)}; known: {list(SYNTHETIC_RESOURCES)}"
            )
        if any(n < 0 for n in self.volumes.values()):
            raise ConfigError("sandbox volumes must be >= 0")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ConfigError("sandbox start and end must be time-zone aware")
        if self.end <= self.start:
            raise ConfigError("sandbox end must be after start")
        if self.latency_ms < 0:
            raise ConfigError("latency_ms must be >= 0")
        if self.retry_after_form not in ("seconds", "http-date"):
            raise ConfigError("retry_after_form must be 'seconds' or 'http-date'")

    def volume(self, resource: str) -> int:
        return int(self.volumes.get(resource, default_volume(resource)))
