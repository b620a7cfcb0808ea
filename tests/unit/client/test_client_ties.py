"""The tie legs are plain URLs built from the page that met the server's positionless cursor."""

from __future__ import annotations

import httpx
import pytest

from courtflow.client import ties
from courtflow.errors import BadPayloadError

BASE = "https://cl.example/api/rest/v4/dockets/"
FIRST = (
    f"{BASE}?order_by=date_modified&date_modified__gte=2024-01-05T00%3A00%3A00Z"
    "&date_modified__lt=2024-01-07T00%3A00%3A00Z&court=scotus&omit=ia_upload_failure_count"
)
ROWS = [{"id": i, "date_modified": "2024-01-04T16:00:00.250000-08:00"} for i in range(20)]


def test_positionless_means_an_offset_and_no_position() -> None:
    assert ties.positionless(f"{BASE}?cursor=bz0yMA%3D%3D")  # "o=20"
    assert not ties.positionless(f"{BASE}?cursor=cD0yMDI0LTAxLTA1Jmk9MyZyPTA%3D")  # p=..&i=3
    assert not ties.positionless(f"{BASE}?cursor=not-base64!")
    assert not ties.positionless(FIRST)


def test_a_positionless_next_becomes_the_id_walk_of_the_tied_instant() -> None:
    nxt = ties.after_page(
        field="date_modified", fetched=FIRST, results=ROWS, next_url=f"{BASE}?cursor=bz0yMA%3D%3D"
    )
    params = httpx.URL(nxt or "").params
    assert params["order_by"] == "id"
    assert params["date_modified"] == "2024-01-05T00:00:00.250000Z"
    assert "date_modified__gte" not in params and "cursor" not in params
    # The window's end, the scope's filter and the field selection stay.
    assert params["date_modified__lt"] == "2024-01-07T00:00:00Z"
    assert params["court"] == "scotus" and params["omit"] == "ia_upload_failure_count"


def test_the_end_of_the_id_walk_continues_strictly_after_the_instant() -> None:
    tie = ties.tie_leg(FIRST, "date_modified", ties._instant(ROWS[0], "date_modified"))
    page2 = str(httpx.URL(tie).copy_merge_params({"cursor": "cD0xMDA="}))
    assert ties.after_page(field="date_modified", fetched=page2, results=ROWS, next_url=None) == (
        ties.rest_leg(page2, "date_modified")
    )
    params = httpx.URL(ties.rest_leg(page2, "date_modified")).params
    assert params["order_by"] == "date_modified"
    assert params["date_modified__gt"] == "2024-01-05T00:00:00.250000Z"
    assert "date_modified" not in params and "cursor" not in params
    assert params["date_modified__lt"] == "2024-01-07T00:00:00Z" and params["court"] == "scotus"


def test_ordinary_pages_follow_next_as_given() -> None:
    nxt = f"{BASE}?cursor=cD0yMDI0&order_by=date_modified"
    assert ties.after_page(field="date_modified", fetched=FIRST, results=ROWS, next_url=nxt) == nxt
    end = ties.after_page(field="date_modified", fetched=FIRST, results=ROWS, next_url=None)
    assert end is None


def test_a_positionless_cursor_after_an_empty_page_is_a_bad_payload() -> None:
    with pytest.raises(BadPayloadError):
        ties.after_page(
            field="date_modified", fetched=FIRST, results=[], next_url=f"{BASE}?cursor=bz0yMA%3D%3D"
        )
