"""Seeded fault injection: one uniform draw per request picks at most one fault.

Draws come from one ``random.Random(seed)`` under a lock, one per request in arrival
order, so a sequential client sees the same faults for the same seed on every run.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from enum import Enum
from typing import Any

from courtflow.sandbox.config import FaultConfig


class Fault(Enum):
    NONE = "none"
    HTTP_500 = "500"
    HTTP_502 = "502"
    HTTP_503 = "503"
    RESET = "reset"
    TRUNCATED = "truncated"
    INVALID_JSON = "invalid_json"
    SLOW = "slow"
    BURST_429 = "429_burst"
    CYCLE = "cycle"
    TRICKLE = "trickle"
    HUGE = "huge"


class FaultPlan:
    """Decides each request's fault; remembers open 429 bursts per token."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._bursts: dict[str, int] = {}
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Install a new configuration; the draw sequence restarts from its seed."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._bursts.clear()
            self._cumulative: list[tuple[float, Fault]] = []
            total = 0.0
            for name, p in config.probabilities().items():
                if p > 0:
                    total += p
                    self._cumulative.append((total, Fault(name)))

    def draw(self, key: str) -> Fault:
        """The fault for one request of ``key``; an open burst wins over a new draw."""
        with self._lock:
            if not self._cumulative and not self._bursts:
                return Fault.NONE
            u = self._rng.random()
            left = self._bursts.get(key, 0)
            if left > 0:
                self._bursts[key] = left - 1
                return Fault.BURST_429
            for bound, fault in self._cumulative:
                if u < bound:
                    if fault is Fault.BURST_429:
                        self._bursts[key] = self.config.burst_length - 1
                    return fault
            return Fault.NONE


class CycleMemory:
    """The list URLs served lately per token, to point a 'next' back at one of them."""

    def __init__(self, depth: int = 64) -> None:
        self._lock = threading.Lock()
        self._served: dict[str, deque[str]] = {}
        self._depth = depth

    def served(self, token: str, url: str) -> None:
        with self._lock:
            self._served.setdefault(token, deque(maxlen=self._depth)).append(url)

    def back(self, token: str, steps: int) -> str | None:
        """The URL served ``steps`` list requests ago (1: the previous one), if any."""
        with self._lock:
            served = self._served.get(token, deque())
            return served[-steps] if 0 < steps <= len(served) else None


def with_next(body: bytes, next_url: str) -> bytes:
    """A list page whose 'next' is ``next_url`` (a page without 'next' is left alone)."""
    page: dict[str, Any] = json.loads(body)
    if not page.get("next"):
        return body
    page["next"] = next_url
    return json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def padded(body: bytes, size: int) -> bytes:
    """The same JSON padded with trailing whitespace to ``size`` bytes."""
    return body + b" " * max(0, size - len(body))


def poisoned(
    body: bytes, poison: frozenset[int], broken: frozenset[int], broken_every: int = 0
) -> bytes:
    """A list page whose records with ids in ``poison``/``broken`` are made hostile."""
    page: dict[str, Any] = json.loads(body)
    results = page.get("results")
    if not isinstance(results, list):
        return body
    changed = False
    for record in results:
        key = record.get("id") if isinstance(record, dict) else None
        if key in poison:
            for name, value in list(record.items()):
                if isinstance(value, str) and name not in ("date_modified", "date_created"):
                    if "date" in name:
                        record[name] = "2024-02-30"  # an impossible date
                    elif not value.startswith("http"):
                        record[name] = value + "\x00after-nul"
                elif isinstance(value, int) and not isinstance(value, bool) and name != "id":
                    record[name] = 2**70
            changed = True
        elif key in broken or (
            broken_every > 0 and isinstance(key, int) and key % broken_every == 0
        ):
            record["date_modified"] = "yesterday-ish"
            changed = True
    if not changed:
        return body
    return json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
