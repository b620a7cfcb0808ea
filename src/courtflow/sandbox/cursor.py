"""Opaque cursors: base64 of ``p=<position>&i=<id>&r=<0|1>``.

As in Django REST framework's cursor, the position is the boundary row's ordering value
as text (digits for ``id``, an ISO 8601 UTC timestamp for the date fields); the id
breaks ties, so rows sharing one ``date_modified`` are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qs, urlencode

from courtflow.sandbox.timefmt import render_utc, to_us

PositionType = Literal["int", "date", "unknown"]


class InvalidCursor(ValueError):
    """The cursor cannot be read, or does not fit the requested ordering."""


@dataclass(frozen=True)
class Cursor:
    """A boundary row's key; ``reverse`` marks a ``previous`` link."""

    position: str | None
    tie_id: int
    reverse: bool = False
    offset: int = 0  # only in the server's positionless cursor (see :func:`positionless`)


def positionless(offset: int) -> Cursor:
    """The cursor Django REST framework links to when a walk's first page and the row after
    it all share one ordering value: an offset and no position (``o=20``). The server
    classifies its missing position as neither int nor date and answers 404
    "Invalid cursor" (``VersionBasedPagination.handle_database_cursor_pagination``)."""
    return Cursor(position=None, tie_id=0, offset=offset)


def position_of(field: str, value: int) -> str:
    """The text a cursor holds for an ordering value (id, or microseconds)."""
    return str(value) if field == "id" else render_utc(value)


def position_type(position: str) -> PositionType:
    """How the server classifies a cursor position (``determine_cursor_position_type``)."""
    if position.isdigit():
        return "int"
    try:
        datetime.fromisoformat(position)
    except ValueError:
        return "unknown"
    return "date"


def encode(cursor: Cursor) -> str:
    if cursor.position is None:
        return base64.b64encode(urlencode([("o", str(cursor.offset))]).encode()).decode("ascii")
    query = urlencode(
        [("p", cursor.position), ("i", str(cursor.tie_id)), ("r", "1" if cursor.reverse else "0")]
    )
    return base64.b64encode(query.encode("ascii")).decode("ascii")


def decode(text: str) -> Cursor:
    try:
        query = base64.b64decode(text.encode("ascii"), validate=True).decode("ascii")
        tokens = parse_qs(query, keep_blank_values=True, strict_parsing=True)
        position = tokens["p"][0]
        tie_id = int(tokens.get("i", ["0"])[0])
        reverse = bool(int(tokens.get("r", ["0"])[0]))
    except (binascii.Error, UnicodeError, ValueError, KeyError, IndexError):
        raise InvalidCursor("Invalid cursor") from None
    return Cursor(position=position, tie_id=tie_id, reverse=reverse)


def key_of(cursor: Cursor, field: str) -> tuple[int, int]:
    """The cursor's ``(value, id)`` key for an ordering on ``field``; mismatch -> invalid."""
    expected: PositionType = "int" if field == "id" else "date"
    if cursor.position is None or position_type(cursor.position) != expected:
        raise InvalidCursor("Invalid cursor")
    if field == "id":
        return int(cursor.position), int(cursor.position)
    moment = datetime.fromisoformat(cursor.position)
    if moment.tzinfo is None:
        raise InvalidCursor("Invalid cursor")
    return to_us(moment), cursor.tie_id
