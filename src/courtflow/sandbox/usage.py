"""The ``api-usage/`` payload: live throttle state per scope, most-used first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from courtflow.budget.rates import parse_rate
from courtflow.sandbox.throttle import WindowState

# Scopes the real endpoint also lists; the sandbox never throttles them.
STATIC_SCOPES: tuple[tuple[str, str], ...] = (("citations", "60/min"), ("fetch", "30/min"))


def _row(scope: str, state: WindowState) -> dict[str, Any]:
    reset_at = (
        None if state.reset_at is None else datetime.fromtimestamp(state.reset_at, UTC).isoformat()
    )
    return {
        "scope": scope,
        "rate": state.rate.text,
        "used": state.used,
        "limit": state.rate.limit,
        "remaining": state.remaining,
        "window_seconds": int(state.rate.period),
        "reset_at": reset_at,
        "blocked": state.blocked,
    }


def _load(row: Mapping[str, Any]) -> float:
    if row["limit"] <= 0:
        return 1.0 if row["blocked"] else 0.0
    return float(row["used"]) / float(row["limit"])


def usage_payload(
    user: Sequence[WindowState], api_usage: Sequence[WindowState], days: Mapping[str, int]
) -> dict[str, Any]:
    rows = [_row("user", s) for s in user] + [_row("api_usage", s) for s in api_usage]
    for scope, text in STATIC_SCOPES:
        rate = parse_rate(text)
        rows.append(_row(scope, WindowState(rate, 0, rate.limit, None, False)))
    rows.sort(key=_load, reverse=True)  # stable: configured order among equals
    historical: dict[str, int] = {day: days[day] for day in sorted(days)}
    historical["total"] = sum(days.values())
    return {"current_usage": rows, "historical_usage": historical, "membership": None}
