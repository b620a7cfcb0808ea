"""The ``api-usage/`` response: the caller's live rates and usage, free of the main quota."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courtflow.budget.rates import Rate, parse_rate
from courtflow.errors import BadPayloadError


@dataclass(frozen=True)
class UsageWindow:
    scope: str
    rate: str
    used: int
    limit: int
    remaining: int
    window_seconds: int
    reset_at: datetime | None
    blocked: bool


@dataclass(frozen=True)
class ApiUsage:
    windows: tuple[UsageWindow, ...]
    historical: Mapping[str, int]
    membership: Any = None

    @property
    def user_windows(self) -> tuple[UsageWindow, ...]:
        """Only ``scope == "user"`` rows are the main quota."""
        return tuple(w for w in self.windows if w.scope == "user")

    def user_rates(self) -> tuple[Rate, ...]:
        return tuple(parse_rate(w.rate) for w in self.user_windows)

    def as_payload(self) -> dict[str, Any]:
        """The answer in the endpoint's own JSON shape (:func:`parse_api_usage` reads it)."""
        rows = [
            {
                "scope": w.scope, "rate": w.rate, "used": w.used, "limit": w.limit,
                "remaining": w.remaining, "window_seconds": w.window_seconds,
                "reset_at": w.reset_at.isoformat() if w.reset_at is not None else None,
                "blocked": w.blocked,
            }
            for w in self.windows
        ]  # fmt: skip
        return {
            "current_usage": rows,
            "historical_usage": dict(self.historical),
            "membership": self.membership,
        }


def parse_api_usage(payload: Any) -> ApiUsage:
    try:
        windows = tuple(
            UsageWindow(
                scope=str(row["scope"]),
                rate=str(row["rate"]),
                used=int(row["used"]),
                limit=int(row["limit"]),
                remaining=int(row["remaining"]),
                window_seconds=int(row["window_seconds"]),
                reset_at=datetime.fromisoformat(row["reset_at"]) if row.get("reset_at") else None,
                blocked=bool(row.get("blocked", False)),
            )
            for row in payload["current_usage"]
        )
        history = dict(payload.get("historical_usage") or {})
        historical = {str(k): int(v) for k, v in history.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPayloadError(f"api-usage/ returned an unexpected shape: {exc!r}") from None
    return ApiUsage(windows=windows, historical=historical, membership=payload.get("membership"))
