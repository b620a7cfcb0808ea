"""Time windows ``[start, end)`` in UTC, and parsing of user-given instants."""

from __future__ import annotations

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


def parse_instant(text: str, *, name: str = "time") -> datetime:
    """Parse ``2024-01-01``, ``2024-01-01T00:00:00Z`` or any ISO 8601 form; naive means UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name} is not an ISO 8601 date or time: {text!r} (e.g. 2024-01-01T00:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
