"""The hook every HTTP attempt passes through: reserve before sending, report after.

The call budget implements :class:`CallGate`; observability wraps it. Until a budget
is plugged in, :class:`PassThroughGate` admits everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Protocol

Outcome = Literal["ok", "http_error", "throttled", "network", "bad_payload", "gone"]


@dataclass(frozen=True)
class Ticket:
    """Permission to send one attempt; ``call_id`` is the ledger row when there is one."""

    endpoint: str
    reserved_at: float  # epoch seconds
    call_id: int | None = None


@dataclass(frozen=True)
class CallReport:
    """What happened to one attempt."""

    status: int | None
    outcome: Outcome
    duration_ms: float
    bytes: int = 0
    attempt: int = 1
    error_class: str | None = None


class CallGate(Protocol):
    def reserve(self, endpoint: str) -> Ticket:
        """Block until a call may be sent, or raise BudgetExhaustedError for long waits."""
        ...

    def report(self, ticket: Ticket, report: CallReport) -> None:
        """Record the outcome of an attempt reserved with ``ticket``."""
        ...

    def throttled(self, retry_after: float) -> None:
        """The server answered 429 with Retry-After: every worker must hold off."""
        ...


class PassThroughGate:
    """Admits every call immediately; records nothing."""

    def reserve(self, endpoint: str) -> Ticket:
        return Ticket(endpoint=endpoint, reserved_at=time.time())

    def report(self, ticket: Ticket, report: CallReport) -> None:
        return None

    def throttled(self, retry_after: float) -> None:
        return None
