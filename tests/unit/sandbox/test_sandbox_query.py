"""Sandbox list queries: known parameters, filters, cursor and page-number pagination."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import pytest

from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.query import ApiError, Span, parse_list_query
from courtflow.sandbox.records import Links
from courtflow.sandbox.timefmt import to_us
from courtflow.sandbox.views import RequestUrl, list_view

LINKS = Links("http://sandbox.test/api/rest/v4/")
VOLUMES = {"dockets": 700, "clusters": 300, "opinions": 300, "docket-entries": 50,
           "recap-documents": 50, "people": 30}  # fmt: skip


class Reply(NamedTuple):
    status: int
    body: Any


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(SandboxConfig(seed=11, volumes=VOLUMES))


def call(data: Dataset, resource: str, url: str | list[tuple[str, str]]) -> Reply:
    if isinstance(url, str):
        parts = urlsplit(url)
        params = tuple(parse_qsl(parts.query, keep_blank_values=True))
        request = RequestUrl("http://sandbox.test", parts.path, params)
    else:
        request = RequestUrl("http://sandbox.test", f"/api/rest/v4/{resource}/", tuple(url))
    answer = list_view(data, resource, request, LINKS)
    return Reply(answer.status, json.loads(answer.encoded()))


def expected_ids(data: Dataset, resource: str, lo: datetime, hi: datetime) -> list[int]:
    table = data.table(resource)
    keys = sorted(
        (table.modified[s], table.ids[s])
        for s in range(len(table))
        if to_us(lo) <= table.modified[s] < to_us(hi)
    )
    return [record_id for _, record_id in keys]


def walk(data: Dataset, resource: str, params: list[tuple[str, str]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    answer = call(data, resource, params)
    while True:
        assert answer.status == 200 and answer.body is not None
        rows.extend(answer.body["results"])
        if answer.body["next"] is None:
            return rows
        answer = call(data, resource, answer.body["next"])


def test_unknown_parameters_are_refused_with_the_server_body() -> None:
    with pytest.raises(ApiError) as caught:
        parse_list_query("dockets", [("order_by", "id"), ("zzz", "1"), ("page_size", "100")])
    assert caught.value.status == 400
    assert caught.value.body == {
        "detail": "Unknown filter parameters are not allowed.",
        "unknown_params": ["page_size", "zzz"],
    }


def test_relation_filters_are_known_only_where_the_resource_has_them() -> None:
    (court,) = parse_list_query("dockets", [("court", "scotus")]).conditions
    assert court.value == "scotus" and court.value_relation is not None
    (docket,) = parse_list_query("clusters", [("docket__id", "12")]).conditions
    assert [r.name for r in docket.path] == ["docket"] and docket.value == 12
    with pytest.raises(ApiError):
        parse_list_query("people", [("court", "scotus")])


@pytest.mark.parametrize(
    "value",
    ["2024-01-02T00:00:00Z", "2024-01-02T00:00:00+00:00", "2024-01-01T16:00:00-08:00",
     "2024-01-01T16:00:00"],  # naive: the server's own time zone
)  # fmt: skip
def test_date_filters_accept_iso_8601_in_any_zone(value: str) -> None:
    query = parse_list_query("opinions", [("date_modified__gte", value)])
    assert query.spans["date_modified"] == Span(lo=to_us(datetime(2024, 1, 2, tzinfo=UTC)))


def test_strict_bounds_become_half_open_integer_intervals() -> None:
    query = parse_list_query(
        "dockets",
        [("id__gt", "10"), ("id__lte", "20"), ("date_created__lt", "2024-01-01T00:00:00Z")],
    )
    assert query.spans["id"] == Span(lo=11, hi=21)
    assert query.spans["date_created"].hi == to_us(datetime(2024, 1, 1, tzinfo=UTC))


def test_bad_filter_values_get_a_field_error() -> None:
    with pytest.raises(ApiError) as caught:
        parse_list_query("dockets", [("date_modified__gte", "yesterday"), ("id", "x")])
    assert caught.value.status == 400
    assert caught.value.body == {
        "date_modified__gte": ["Enter a valid date/time."],
        "id": ["Enter a whole number."],
    }


def test_cursor_pagination_applies_to_id_and_date_orderings_and_by_default() -> None:
    assert parse_list_query("dockets", [("order_by", "-date_modified")]).cursor_mode
    assert parse_list_query("dockets", []).cursor_mode  # the viewsets order by -id
    assert not parse_list_query("dockets", [("order_by", "date_filed")]).cursor_mode


def test_a_window_walk_returns_exactly_the_window_ascending_with_ties(data: Dataset) -> None:
    lo, hi = datetime(2024, 1, 10, tzinfo=UTC), datetime(2024, 1, 31, tzinfo=UTC)
    params = [("order_by", "date_modified"), ("date_modified__gte", lo.isoformat()),
              ("date_modified__lt", hi.isoformat())]  # fmt: skip
    rows = walk(data, "dockets", params)
    expected = expected_ids(data, "dockets", lo, hi)
    assert [r["id"] for r in rows] == expected
    assert len(expected) > 100
    table = data.table("dockets")
    window = [table.modified[table.slot(i)] for i in expected]  # type: ignore[index]
    assert len(set(window)) < len(window)  # the walk crossed ties


def test_a_descending_walk_is_the_reverse_order(data: Dataset) -> None:
    rows = walk(data, "clusters", [("order_by", "-date_modified")])
    table = data.table("clusters")
    keys = sorted(((table.modified[s], table.ids[s]) for s in range(len(table))), reverse=True)
    assert [r["id"] for r in rows] == [i for _, i in keys]


def test_previous_links_lead_back_to_the_page_before(data: Dataset) -> None:
    first = call(data, "dockets", [("order_by", "id")]).body
    assert first is not None and first["previous"] is None
    second = call(data, "dockets", first["next"]).body
    assert second is not None
    back = call(data, "dockets", second["previous"]).body
    assert back is not None
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    assert back["previous"] is None


def test_count_url_counts_the_filtered_rows(data: Dataset) -> None:
    lo, hi = datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 8, tzinfo=UTC)
    params = [("order_by", "date_modified"), ("date_modified__gte", lo.isoformat()),
              ("date_modified__lt", hi.isoformat()), ("court", "scotus")]  # fmt: skip
    body = call(data, "dockets", params).body
    assert body is not None and "count=on" in body["count"]
    counted = call(data, "dockets", body["count"]).body
    rows = walk(data, "dockets", params)
    assert counted == {"count": len(rows)}
    assert all(r["court_id"] == "scotus" for r in rows)


def test_filters_off_the_ordering_field_are_applied_row_by_row(data: Dataset) -> None:
    cutoff = datetime(2024, 2, 1, tzinfo=UTC)
    rows = walk(data, "opinions", [("order_by", "id"), ("date_modified__gte", cutoff.isoformat())])
    assert rows and all(datetime.fromisoformat(str(r["date_modified"])) >= cutoff for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # type: ignore[type-var]


def test_a_cursor_of_another_ordering_is_an_invalid_cursor(data: Dataset) -> None:
    body = call(data, "dockets", [("order_by", "date_modified")]).body
    assert body is not None
    cursor = dict(parse_qsl(urlsplit(body["next"]).query))["cursor"]
    with pytest.raises(ApiError) as caught:
        call(data, "dockets", [("order_by", "id"), ("cursor", cursor)])
    assert (caught.value.status, caught.value.body) == (404, {"detail": "Invalid cursor"})


def test_page_numbers_stop_at_page_100(data: Dataset) -> None:
    body = call(data, "dockets", [("order_by", "date_filed"), ("page", "2")]).body
    assert body is not None and body["count"] == len(data.table("dockets"))
    assert body["next"].endswith("page=3") and "page" not in body["previous"]
    with pytest.raises(ApiError) as caught:
        call(data, "dockets", [("order_by", "date_filed"), ("page", "101")])
    assert caught.value.status == 404
    assert str(caught.value.body["detail"]).startswith("Invalid page: Deep API pagination")


def test_fields_and_omit_shape_each_record(data: Dataset) -> None:
    body = call(data, "opinions", [("order_by", "id"), ("fields", "id,cluster_id,plain_text")]).body
    assert body is not None and set(body["results"][0]) == {"id", "cluster_id", "plain_text"}
    body = call(data, "opinions", [("order_by", "id"), ("omit", "plain_text,html")]).body
    assert body is not None
    assert "plain_text" not in body["results"][0] and "html_with_citations" in body["results"][0]
    body = call(data, "docket-entries", [("omit", "recap_documents__plain_text")]).body
    assert body is not None
    nested = [d for r in body["results"] for d in r["recap_documents"]]
    assert nested and all("plain_text" not in d and "sha1" in d for d in nested)


def test_courts_use_plain_page_numbers_by_position(data: Dataset) -> None:
    body = call(data, "courts", []).body
    assert body is not None and body["count"] == 420 and body["next"].endswith("?page=2")
    positions = [c["position"] for c in body["results"]]
    assert positions == sorted(positions)
    last = call(data, "courts", [("page", "21")]).body
    assert last is not None and last["next"] is None and len(last["results"]) == 20
    with pytest.raises(ApiError) as caught:
        call(data, "courts", [("page", "22")])
    assert caught.value.body == {"detail": "Invalid page."}
    assert call(data, "courts", [("count", "on")]).body == {"count": 420}
