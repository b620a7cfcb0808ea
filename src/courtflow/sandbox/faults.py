"""Seeded fault injection: one uniform draw per request picks at most one fault.

Draws come from one ``random.Random(seed)`` under a lock, one per request in arrival
order, so a sequential client sees the same faults for the same seed on every run.
"""

from __future__ import annotations

import random
import threading
from enum import Enum

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
