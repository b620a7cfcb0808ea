"""Records from the API to table rows: pure functions, no database.

CourtListener sends timestamps in America/Los_Angeles (``-08:00``, ``-07:00`` in
summer); rows hold them as UTC. Related objects come as hyperlinks
(``".../api/rest/v4/dockets/12/"``); typed columns keep the trailing id.

What the target cannot hold as sent (the "poison record" rule, applied to every record):

- NUL (U+0000) cannot be stored in PostgreSQL ``text`` or ``jsonb``: typed text columns
  drop it; in the stored JSON record every NUL in a key or string becomes the six
  characters ``\\u0000`` (visible, reversible). ``content_hash`` is taken over the record
  as sent, so a sanitised record hashes as the server's content.
- A typed value that does not fit its column (an integer beyond 64 bits, a date or time
  PostgreSQL or Python cannot represent, a value of the wrong type) becomes NULL in that
  typed column when converting leniently (:func:`partition_page`); the JSON record keeps
  the original value.
- A record is rejected whole (:class:`Rejected`, stored in ``sync_rejects``) when its key
  or ordering cannot be stored: no usable ``id``, no ``date_modified`` that parses within
  years 1..9999 UTC, an unpaired surrogate (not encodable as UTF-8), or nesting deeper
  than :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from courtflow.catalogue.resources import ColumnSpec, ResourceSpec
from courtflow.errors import BadPayloadError

_T = TypeVar("_T")

# date_modified of records that have none (opinions-cited): such rows never change, so
# one fixed value keeps the "never older" rule; equal contents hash equal.
NO_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)

# Only links into the REST API are reduced to ids: a plain URL such as an opinion's
# download_url is data and stays as it is.
_API_LINK = re.compile(r"^(?:https?://[^/]+)?/api/rest/v\d+/[\w-]+/([^/?#]+)/?(?:[?#].*)?$")


def canonical_json(record: Mapping[str, Any]) -> str:
    """One text per content: sorted keys, no spaces, so equal records hash equal."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


# Deeper nesting than any CourtListener record has; deeper would risk the recursion
# limits of json, PostgreSQL's jsonb parser and downstream readers.
MAX_DEPTH = 64
_INT64 = 2**63
_NUL = "\x00"


def _depth_exceeds(value: object, limit: int) -> bool:
    """True if ``value`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False


def _escape_nul(value: Any) -> Any:
    """``value`` with every NUL in keys and strings replaced by the text ``\\u0000``."""
    if isinstance(value, str):
        return value.replace(_NUL, "\\u0000")
    if isinstance(value, dict):
        return {_escape_nul(k): _escape_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_nul(v) for v in value]
    return value


def link_id(value: str) -> str | None:
    """``"http://host/api/rest/v4/dockets/12/"`` -> ``"12"``; None if not an API link."""
    match = _API_LINK.match(value)
    return match.group(1) if match else None


def _bad(spec: ResourceSpec, record_id: object, field: str, problem: str) -> BadPayloadError:
    return BadPayloadError(f"{spec.name} record id={record_id!r}: field {field!r} {problem}")


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 timestamp with offset (or ``Z``) as an aware UTC datetime.

    Raises ValueError for anything else, naive timestamps included: the API always
    sends an offset, and guessing a zone would silently shift rows by hours.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("has no time zone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range in UTC (year 1..9999)") from None


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("is a boolean, expected an integer")
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value.strip()):
        value = int(value)
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError("is out of the 64-bit integer range")
        return value
    raise ValueError(f"is not an integer ({type(value).__name__})")


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value.replace(_NUL, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"is not text ({type(value).__name__})")


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"is not a boolean ({type(value).__name__})")


def _to_date(value: object) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f"is not an ISO date ({type(value).__name__})")


def convert_value(column: ColumnSpec, value: object) -> object:
    """One typed column's value; raises ValueError with the reason when it does not fit."""
    if value is None:
        return None
    if isinstance(value, str) and column.type != "datetime":
        linked = link_id(value)
        if linked is not None:
            value = linked
    if column.type == "int":
        return _to_int(value)
    if column.type == "text":
        return _to_text(value)
    if column.type == "bool":
        return _to_bool(value)
    if column.type == "date":
        return _to_date(value)
    return parse_timestamp(value)


def source_value(record: Mapping[str, Any], source: str) -> object:
    """``record[source]``; ``a.b`` reads ``b`` of the object nested under ``a`` (None if absent)."""
    if "." not in source:
        return record.get(source)
    value: object = record
    for part in source.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _uri_key(spec: ResourceSpec, record: Mapping[str, Any]) -> object:
    """The last path segment of ``resource_uri`` (``.../fjc-integrated-database/7/`` -> 7)."""
    uri = record.get("resource_uri")
    if not isinstance(uri, str) or not uri.strip():
        keys = ", ".join(sorted(record)[:12])
        raise BadPayloadError(
            f"{spec.name} record without field 'resource_uri', its identity (fields: {keys})"
        )
    segment = uri.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not segment or "/" + spec.path.strip("/") + "/" not in uri:
        raise _bad(spec, None, "resource_uri", f"is not a {spec.path} link: {uri[:200]!r}")
    return segment


def record_id(spec: ResourceSpec, record: Mapping[str, Any]) -> int | str:
    """The record's key, typed per ``spec.key_type``; BadPayloadError if absent or odd.

    Where it comes from is the spec's ``identity``: the ``id`` field, or the last path
    segment of ``resource_uri`` for endpoints whose serializer sends no ``id``.
    """
    raw = _uri_key(spec, record) if spec.identity == "resource_uri" else record.get("id")
    if raw is None or raw == "":
        keys = ", ".join(sorted(record)[:12])
        raise BadPayloadError(f"{spec.name} record without field 'id' (fields: {keys})")
    if spec.key_type == "text":
        if isinstance(raw, str) and _NUL not in raw:
            return raw
        raise _bad(spec, raw, "id", "is not text")
    try:
        return _to_int(raw)
    except ValueError as exc:
        raise _bad(spec, raw, "id", str(exc)) from None


@dataclass(frozen=True)
class Rejected:
    """A record the target cannot store: its key (if any), why, and the record as text."""

    key: str | None
    reason: str
    raw: str


def raw_text(record: object) -> str:
    """The record as JSON text that any text column can hold (ASCII, NUL escaped)."""
    try:
        return json.dumps(record, sort_keys=True, ensure_ascii=True, default=repr)
    except (ValueError, RecursionError):
        return repr(record)[:100_000]


@dataclass(frozen=True)
class Converted:
    """A row and the canonical JSON text of its record (what ``content_hash`` hashes).

    The text is kept so a bulk path can send the record without serialising it again.
    """

    row: dict[str, Any]
    data_json: str


def convert_record(
    spec: ResourceSpec,
    record: Mapping[str, Any],
    run_id: str | None,
    loaded_at: datetime,
    *,
    lenient: bool = False,
) -> Converted:
    """The table row for one API record (keys are the table's column names).

    Missing typed fields become NULL (``fields=``/``omit=`` may leave them out); a
    missing or unparsable ``date_modified`` is an error because ordering depends on it.
    A typed value that does not fit its column is an error, or NULL when ``lenient``
    (the JSON record keeps it). See the module docstring for NUL and other poison.
    """
    key = record_id(spec, record)
    if _depth_exceeds(record, MAX_DEPTH):
        raise _bad(spec, key, "(record)", f"nests deeper than {MAX_DEPTH} levels")
    row: dict[str, Any] = {"id": key}
    if not spec.timestamps:
        row["date_modified"], row["date_created"] = NO_TIMESTAMP, None
    elif record.get("date_modified") is None:
        raise _bad(spec, key, "date_modified", "is missing")
    for field in ("date_modified", "date_created") if spec.timestamps else ():
        value = record.get(field)
        try:
            row[field] = None if value is None else parse_timestamp(value)
        except ValueError as exc:
            raise _bad(spec, key, field, f"is not an ISO 8601 timestamp ({exc}): {value!r}") \
                from None
    for column in spec.columns:
        value = source_value(record, column.source)
        try:
            row[column.name] = convert_value(column, value)
        except (ValueError, OverflowError) as exc:
            if not lenient:
                raise _bad(spec, key, column.source, f"does not fit {column.type} ({exc})") \
                    from None
            row[column.name] = None
    text = canonical_json(record)
    try:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:
        raise _bad(spec, key, "(record)", "holds an unpaired surrogate (not UTF-8)") from None
    data: dict[str, Any] = dict(record)
    if "\\u0000" in text:  # JSON writes NUL as \u0000; jsonb refuses it
        data = _escape_nul(data)
        text = canonical_json(data)
    row["data"] = data
    row["content_hash"] = digest
    row["run_id"] = run_id
    row["loaded_at"] = loaded_at
    row["deleted_at"] = None  # the server sent it: it exists
    return Converted(row, text)


def to_row(
    spec: ResourceSpec,
    record: Mapping[str, Any],
    run_id: str | None,
    loaded_at: datetime,
) -> dict[str, Any]:
    """The table row for one API record; see :func:`convert_record`."""
    return convert_record(spec, record, run_id, loaded_at).row


def version_key(row: Mapping[str, Any]) -> tuple[datetime, str]:
    """Which of two versions of a row wins: newer date_modified, then higher hash.

    The hash only breaks ties between different contents carrying the same
    date_modified, so the final table does not depend on the order of loads.
    """
    return (row["date_modified"], row["content_hash"])


def _newest_by_id(items: Iterable[_T], row_of: Callable[[_T], dict[str, Any]]) -> list[_T]:
    best: dict[object, _T] = {}
    for item in items:
        key = row_of(item)["id"]
        current = best.get(key)
        if current is None or version_key(row_of(item)) > version_key(row_of(current)):
            best[key] = item
    return list(best.values())


def dedupe_newest(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per id, the winning version; PostgreSQL refuses a batch touching a row twice."""
    return _newest_by_id(rows, lambda row: row)


def convert_page(
    spec: ResourceSpec,
    records: Sequence[Mapping[str, Any]],
    run_id: str | None,
    loaded_at: datetime,
) -> list[Converted]:
    """A page of records converted and deduplicated by id (newest version kept)."""
    converted = [convert_record(spec, r, run_id, loaded_at) for r in records]
    return _newest_by_id(converted, lambda item: item.row)


def partition_page(
    spec: ResourceSpec,
    records: Sequence[Mapping[str, Any]],
    run_id: str | None,
    loaded_at: datetime,
) -> tuple[list[Converted], list[Rejected]]:
    """Lenient :func:`convert_page`: rows that can be stored, and the records that cannot."""
    converted: list[Converted] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            converted.append(convert_record(spec, record, run_id, loaded_at, lenient=True))
        except BadPayloadError as exc:
            raw = _reject_key(spec, record)
            key = None if raw is None else str(raw).replace(_NUL, "")[:200]
            rejected.append(Rejected(key, str(exc), raw_text(record)))
    return _newest_by_id(converted, lambda item: item.row), rejected


def _reject_key(spec: ResourceSpec, record: object) -> object:
    """The key a rejected record is filed under, if it names one at all."""
    if not isinstance(record, Mapping):
        return None
    if spec.identity == "resource_uri":
        try:
            return _uri_key(spec, record)
        except BadPayloadError:
            return None
    return record.get("id")


def to_rows(
    spec: ResourceSpec,
    records: Sequence[Mapping[str, Any]],
    run_id: str | None,
    loaded_at: datetime,
) -> list[dict[str, Any]]:
    """Rows for a page of records, deduplicated by id."""
    return [item.row for item in convert_page(spec, records, run_id, loaded_at)]
