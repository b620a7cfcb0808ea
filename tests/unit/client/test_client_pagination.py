"""Listing: first-request parameters, following ``next`` exactly, resume, page-number courts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from client_fakes import BASE, Harness, page

from courtflow.catalogue.resources import get_resource
from courtflow.errors import BadPayloadError, CursorLoopError

DOCKETS = get_resource("dockets")
OPINIONS = get_resource("opinions")
COURTS = get_resource("courts")
MakeHarness = Callable[..., Harness]
PACIFIC = timezone(timedelta(hours=-8))


def query(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(request.url)).query))


def test_cursor_walk_sends_window_in_utc_and_follows_next_exactly(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    # Odd but valid next URLs: the client must send them byte for byte, not rebuild them.
    next1 = f"{BASE}/dockets/?cursor=cD0yMDI1LTAx%2B&date_modified__gte=x&order_by=date_modified"
    next2 = f"{BASE}/dockets/?order_by=date_modified&cursor=cD0yMDI1LTAxLTAy"
    h.server.script = [
        page([{"id": 1}, {"id": 2}], next1, count=f"{BASE}/dockets/?count=on"),
        page([{"id": 3}], next2, count=f"{BASE}/dockets/?count=on"),
        page([], None, count=f"{BASE}/dockets/?count=on"),
    ]
    since = datetime(2025, 1, 1, 16, 0, tzinfo=PACIFIC)
    until = datetime(2025, 1, 3, tzinfo=UTC)
    pages = list(h.client.iter_pages(DOCKETS, since=since, until=until))

    assert query(h.server.requests[0]) == {
        "order_by": "date_modified",
        "date_modified__gte": "2025-01-02T00:00:00Z",
        "date_modified__lt": "2025-01-03T00:00:00Z",
    }
    assert h.server.urls[1:] == [next1, next2]
    assert [p.next_url for p in pages] == [next1, next2, None]
    assert [len(p.results) for p in pages] == [2, 1, 0]
    assert all(p.count is None and p.attempts == 1 for p in pages)
    assert pages[1].url == next1
    assert [e for e, _ in h.gate.reserved] == ["dockets/"] * 3


def test_default_omit_applies_only_without_fields_or_omit(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.handler = lambda r: page([], None)
    list(h.client.iter_pages(OPINIONS))
    list(h.client.iter_pages(OPINIONS, fields=["id", "cluster_id"]))
    list(h.client.iter_pages(OPINIONS, omit=["plain_text"]))
    sent = [query(r) for r in h.server.requests]
    assert sent[0]["omit"] == ",".join(OPINIONS.default_omit)
    assert sent[1]["fields"] == "id,cluster_id" and "omit" not in sent[1]
    assert sent[2]["omit"] == "plain_text" and "fields" not in sent[2]


def test_resume_url_is_the_first_request(make_harness: MakeHarness) -> None:
    h = make_harness()
    saved = f"{BASE}/dockets/?cursor=abc&order_by=date_modified"
    h.server.script = [page([{"id": 9}], None)]
    pages = list(h.client.iter_pages(DOCKETS, resume_url=saved, since=datetime.now(UTC)))
    assert h.server.urls == [saved]
    assert pages[0].results == ({"id": 9},)


def test_resume_url_on_another_host_is_refused(make_harness: MakeHarness) -> None:
    h = make_harness()
    with pytest.raises(BadPayloadError, match="leaves the configured API host"):
        list(h.client.iter_pages(DOCKETS, resume_url="https://evil.test/api/rest/v4/dockets/"))
    assert h.server.requests == []


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.test/api/rest/v4/dockets/?cursor=x",
        "http://cl.test/api/rest/v4/dockets/?cursor=x",  # scheme downgrade
        "https://cl.test:8443/api/rest/v4/dockets/?cursor=x",
        "/api/rest/v4/dockets/?cursor=x",
    ],
)
def test_next_url_leaving_the_api_host_is_refused(make_harness: MakeHarness, foreign: str) -> None:
    h = make_harness()
    h.server.script = [page([{"id": 1}], foreign)]
    with pytest.raises(BadPayloadError):
        list(h.client.iter_pages(DOCKETS))
    assert len(h.server.requests) == 1


def test_next_url_pointing_to_itself_is_refused(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.handler = lambda r: page([{"id": 1}], str(r.url))
    with pytest.raises(CursorLoopError, match="leads back to a page already fetched"):
        list(h.client.iter_pages(DOCKETS, resume_url=f"{BASE}/dockets/?cursor=a"))
    assert len(h.server.requests) == 1


@pytest.mark.parametrize("length", [2, 3, 7])
def test_a_cursor_cycle_of_any_length_is_refused_after_one_lap(
    make_harness: MakeHarness, length: int
) -> None:
    h = make_harness()
    cursors = [f"{BASE}/dockets/?cursor=c{i}" for i in range(length)]
    h.server.script = [
        page([{"id": i}], cursors[(i + 1) % length]) for i in range(length)
    ]
    with pytest.raises(CursorLoopError):
        list(h.client.iter_pages(DOCKETS, resume_url=cursors[0]))
    assert len(h.server.requests) == length


def test_page_number_courts_follow_next_and_read_integer_count(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [
        page([{"id": "scotus"}], f"{BASE}/courts/?page=2", count=3),
        page([{"id": "ca1"}], f"{BASE}/courts/?page=3", count=3),
        page([{"id": "ca2"}], None, count=3),
    ]
    pages = list(h.client.iter_pages(COURTS))
    assert h.server.urls == [f"{BASE}/courts/", f"{BASE}/courts/?page=2", f"{BASE}/courts/?page=3"]
    assert [p.count for p in pages] == [3, 3, 3]
    assert [r["id"] for p in pages for r in p.results] == ["scotus", "ca1", "ca2"]


def test_count_of_a_cursor_window_costs_one_count_on_call(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [httpx.Response(200, json={"count": 1234})]
    since = datetime(2025, 1, 1, tzinfo=UTC)
    assert h.client.count(DOCKETS, since=since, until=since + timedelta(days=1)) == 1234
    assert len(h.server.requests) == 1
    assert query(h.server.requests[0]) == {
        "order_by": "date_modified",
        "date_modified__gte": "2025-01-01T00:00:00Z",
        "date_modified__lt": "2025-01-02T00:00:00Z",
        "count": "on",
    }


def test_count_of_page_number_courts_reads_the_integer(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [page([{"id": "scotus"}], f"{BASE}/courts/?page=2", count=458)]
    assert h.client.count(COURTS) == 458
    assert len(h.server.requests) == 1


def test_count_without_an_integer_is_a_bad_payload(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=1)
    h.server.script = [httpx.Response(200, json={"count": "lots"})]
    with pytest.raises(BadPayloadError, match="count"):
        h.client.count(DOCKETS)


@pytest.mark.parametrize(
    "body",
    [[], {"next": None}, {"results": [1, 2], "next": None}, {"results": [], "next": 5}],
)
def test_pages_of_the_wrong_shape_are_bad_payloads(make_harness: MakeHarness, body: object) -> None:
    h = make_harness(max_attempts=1)
    h.server.script = [httpx.Response(200, json=body)]
    with pytest.raises(BadPayloadError):
        list(h.client.iter_pages(DOCKETS))


def test_naive_datetimes_are_refused(make_harness: MakeHarness) -> None:
    h = make_harness()
    with pytest.raises(ValueError, match="naive"):
        list(h.client.iter_pages(DOCKETS, since=datetime(2025, 1, 1)))
    assert h.server.requests == []
