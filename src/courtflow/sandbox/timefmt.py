"""Time as the server shows it: integers of microseconds inside, Pacific time outside.

The sandbox keeps every timestamp as microseconds since the Unix epoch (exact, cheap to
sort and bisect) and renders them as the real server does, in America/Los_Angeles with
the offset of the day (``-08:00`` in winter, ``-07:00`` in summer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SERVER_TZ = ZoneInfo("America/Los_Angeles")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000


def to_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def render(micros: int) -> str:
    """Django REST framework's rendering under ``TIME_ZONE = America/Los_Angeles``."""
    return from_us(micros).astimezone(SERVER_TZ).isoformat()


def render_utc(micros: int) -> str:
    return from_us(micros).isoformat()


def parse_query_datetime(text: str) -> int:
    """A filter value: ISO 8601 with offset or ``Z``; a naive value is server local time."""
    value = text.strip()
    if not value:
        raise ValueError("empty")
    if _lost_plus(value):
        value = value[:-6] + "+" + value[-5:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SERVER_TZ)
    return to_us(moment)


def _lost_plus(value: str) -> bool:
    # An unencoded "+07:00" in a query string arrives as " 07:00".
    return len(value) > 6 and value[-6] == " " and value[-3] == ":"


def local_day(seconds: float) -> str:
    """The server's calendar day (its own time zone) for an epoch time in seconds."""
    return datetime.fromtimestamp(seconds, SERVER_TZ).date().isoformat()
