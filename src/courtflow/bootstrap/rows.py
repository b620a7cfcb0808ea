"""How an export's row becomes the resource table's row: shared by both database paths.

The JSON record is the API's record for the same object (see ``shape``): the export's
columns with the JSON types the API renders (numbers, booleans, ISO dates, timestamps in
the API's own form), links built as the API builds them, minus the fields the API path
leaves out by default (``ResourceSpec.default_omit``). Typed
columns are read from it by the catalogue's ``ColumnSpec.source`` (or ``source_id``:
the file has ``docket_id`` where the API has a ``docket`` link), so a row from a file
and the same row fetched through the API agree on every typed column.

A bulk row's content hash is sixteen zeros, 32 hex digits of a digest of the row, and
sixteen zeros: 64 hex digits like an API record's sha256, so at equal ``date_modified``
the upsert's tie-break (higher hash wins) always prefers the API's richer record over the
export's, whatever the collation; between two versions from exports the digest decides.
PostgreSQL digests the staged row's text with ``md5`` (a fifth faster than sha256 of the
JSON text, measured); SQLite takes the record's sha256.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from courtflow.bootstrap.exports import Export, ExportColumn
from courtflow.bootstrap.shape import api_timestamp
from courtflow.catalogue.resources import ColumnSpec

BULK_HASH_PREFIX = "0" * 16
BULK_HASH_SUFFIX = "0" * 16
BULK_HASH_DIGITS = 32


def bulk_hash(digest_hex: str) -> str:
    return BULK_HASH_PREFIX + digest_hex[:BULK_HASH_DIGITS] + BULK_HASH_SUFFIX


def source_column(export: Export, column: ColumnSpec) -> ExportColumn | None:
    """The export column a typed table column is read from, if the file has it.

    The API's ``court_id`` is the file's ``court_id``; its ``docket`` link and its
    nested ``person.id`` are the file's ``docket_id`` and ``person_id``.
    """
    name = column.source.replace(".", "_")
    return export.column(name) or export.column(f"{name}_id")


def json_value(column: ExportColumn, text: str | None) -> Any:
    """One CSV field as the JSON value the record holds; ValueError if it does not fit."""
    if text is None:
        return None
    kind = column.type
    if kind == "int":
        return int(text)
    if kind == "bool":
        if text in ("t", "true"):
            return True
        if text in ("f", "false"):
            return False
        raise ValueError(f"{text!r} is not a boolean (t or f)")
    if kind == "float":
        return float(text)
    if kind == "date":
        return date.fromisoformat(text).isoformat()
    if kind == "datetime":
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone")
        return api_timestamp(parsed)
    return text


def export_instant(day: date) -> datetime:
    """Midnight UTC of the export's date: the moment its data is taken to be as of."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def watermark_for(day: date, overlap: timedelta) -> datetime:
    """Where the API's next window starts after loading an export dated ``day``."""
    return export_instant(day) - overlap
