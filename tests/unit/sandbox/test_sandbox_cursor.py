"""Sandbox cursors: opaque, round-trip exactly, refuse what does not fit the ordering."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from courtflow.sandbox.cursor import (
    Cursor,
    InvalidCursor,
    decode,
    encode,
    key_of,
    position_of,
    position_type,
)
from courtflow.sandbox.timefmt import to_us


def test_a_cursor_round_trips_through_its_text() -> None:
    cursor = Cursor(position="2024-01-05T10:00:00.000001+00:00", tie_id=1234, reverse=True)
    assert decode(encode(cursor)) == cursor


def test_date_positions_keep_microseconds_and_break_ties_by_id() -> None:
    moment = datetime(2024, 1, 5, 10, 0, 0, 1, tzinfo=UTC)
    cursor = Cursor(position_of("date_modified", to_us(moment)), tie_id=77)
    assert key_of(decode(encode(cursor)), "date_modified") == (to_us(moment), 77)


def test_id_positions_are_digits_and_their_key_is_the_id() -> None:
    cursor = Cursor(position_of("id", 4321), tie_id=4321)
    assert cursor.position == "4321"
    assert key_of(cursor, "id") == (4321, 4321)


@pytest.mark.parametrize(
    ("position", "kind"),
    [
        ("123", "int"),
        ("2024-01-01T00:00:00+00:00", "date"),
        ("2024-01-01", "date"),
        ("x", "unknown"),
    ],
)
def test_positions_are_classified_as_the_server_does(position: str, kind: str) -> None:
    assert position_type(position) == kind


def test_a_date_cursor_does_not_fit_an_id_ordering_and_vice_versa() -> None:
    date_cursor = Cursor(position_of("date_modified", 0), tie_id=5)
    with pytest.raises(InvalidCursor):
        key_of(date_cursor, "id")
    with pytest.raises(InvalidCursor):
        key_of(Cursor("42", 42), "date_created")


@pytest.mark.parametrize(
    "text",
    ["not base64!", base64.b64encode(b"x=1").decode(), base64.b64encode(b"p=1&i=a").decode(), ""],
)
def test_unreadable_cursors_are_invalid(text: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(text)
