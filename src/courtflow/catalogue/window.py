"""Time windows ``[start, end)`` in UTC, and parsing of user-given instants."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from courtflow.errors import ConfigError


@dataclass(frozen=True, order=True)
class Window:
    """A half-open interval of ``date_modified`` values: ``start <= t < end`` (aware, UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ConfigError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise ConfigError(f"window ends before it starts: {self.start} .. {self.end}")

    @property
    def empty(self) -> bool:
        return self.start == self.end

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"

    def split(self, step: timedelta) -> Iterator[Window]:
        """Consecutive sub-windows of at most ``step`` covering this window exactly."""
        if step <= timedelta(0):
            raise ConfigError("window step must be positive")
        cursor = self.start
        while cursor < self.end:
            nxt = min(cursor + step, self.end)
            yield Window(cursor, nxt)
            cursor = nxt


# Window bounds and instants outside these years are typos (CourtListener's date_modified
# values start in the 2010s), and near year 1 or 9999 the UTC conversion overflows.
MIN_YEAR, MAX_YEAR = 1900, 2200
# A backfill step below a minute, or a split into more windows than this, is a mistake
# that would otherwise exhaust memory (every window is planned up front).
MIN_STEP = timedelta(minutes=1)
MAX_WINDOWS = 200_000


def check_step(hours: float, window: Window, *, name: str = "--step-hours") -> timedelta:
    """A backfill step in hours as a timedelta; refuses NaN, tiny, huge and too many windows."""
    if not math.isfinite(hours) or hours <= 0:
        raise ConfigError(f"{name} must be a positive number of hours, got {hours}")
    if hours > 24 * 366 * 10:
        raise ConfigError(f"{name} must be at most ten years of hours, got {hours:g}")
    step = timedelta(hours=hours)
    if step < MIN_STEP:
        raise ConfigError(f"{name} must be at least one minute (1/60 h), got {hours:g}")
    count = (window.end - window.start) / step
    if count > MAX_WINDOWS:
        raise ConfigError(
            f"{name}={hours:g} splits {window} into {math.ceil(count)} windows "
            f"(at most {MAX_WINDOWS}); use a larger step"
        )
    return step


def parse_instant(text: str, *, name: str = "time") -> datetime:
    """Parse ``2024-01-01``, ``2024-01-01T00:00:00Z`` or any ISO 8601 form; naive means UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            value = datetime(d.year, d.month, d.day, tzinfo=UTC).isoformat()
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name} is not an ISO 8601 date or time: {text!r} (e.g. 2024-01-01T00:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ConfigError(f"{name} year {parsed.year} is outside {MIN_YEAR}..{MAX_YEAR}: {text!r}")
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clamp(window: Window, limit: datetime) -> Window | None:
    """``window`` ending no later than ``limit`` (the server's clock less the settle lag);
    None when it starts at or after ``limit``: wholly in the future, nothing to read yet."""
    if window.start >= limit:
        return None
    return Window(window.start, min(window.end, limit))


def catch_up(watermark: datetime, limit: datetime, lookback: timedelta) -> Window | None:
    """The catch-up window: from ``lookback`` before the watermark (the tail of the last
    window is read again) to ``limit``; None when the watermark is already at ``limit``."""
    if watermark >= limit:
        return None
    return Window(min(watermark - lookback, limit), limit)
