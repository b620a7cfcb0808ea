"""Column types whose stored form is the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; always read back aware, in UTC.

    SQLite has no time zones: SQLAlchemy would store the wall-clock time of a
    ``-08:00`` value and drop the offset. Converting to UTC first keeps one fixed-width
    text format there, so ``<`` between stored values is chronological, which the
    upsert's "never older" rule relies on. Naive values are refused, not guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (an aware datetime is required)")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON text on SQLite, JSONB (indexable, compact) on PostgreSQL."""
    return JSON().with_variant(JSONB(), "postgresql")
