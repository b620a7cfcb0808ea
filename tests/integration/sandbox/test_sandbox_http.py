"""The sandbox over real HTTP on 127.0.0.1: auth, pagination, routes, api-usage, hooks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, start_sandbox, token_label
from courtflow.sandbox.timefmt import to_us

pytestmark = pytest.mark.timeout(60)

WINDOW = (datetime(2024, 1, 5, tzinfo=UTC), datetime(2024, 2, 10, tzinfo=UTC))


def window_params(lo: datetime, hi: datetime, **extra: str) -> dict[str, str]:
    return {"order_by": "date_modified", "date_modified__gte": lo.isoformat(),
            "date_modified__lt": hi.isoformat(), **extra}  # fmt: skip


def walk(
    client: httpx.Client, path: str, params: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    response = client.get(path, params=params) if params else client.get(path)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if body["next"] is None:
            return
        response = client.get(body["next"])


def expected_window(
    sandbox: RunningSandbox, resource: str, lo: datetime, hi: datetime
) -> list[int]:
    table = sandbox.state.data.table(resource)
    keys = sorted(
        (table.modified[s], table.ids[s])
        for s in range(len(table))
        if to_us(lo) <= table.modified[s] < to_us(hi)
    )
    return [record_id for _, record_id in keys]


def admitted(sandbox: RunningSandbox, token: str = DEMO_TOKEN) -> int:
    return len(sandbox.state.admissions(token))


# -- authentication ------------------------------------------------------------------


def test_a_request_without_token_is_401_with_the_server_challenge(sandbox: RunningSandbox) -> None:
    response = httpx.get(f"{sandbox.url}/dockets/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_token_is_401_invalid_token_and_costs_nothing(sandbox: RunningSandbox) -> None:
    before = sandbox.stats()["admitted"]
    response = httpx.get(f"{sandbox.url}/dockets/", headers={"Authorization": "Token " + "9" * 40})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert sandbox.stats()["admitted"] == before


# -- pagination ----------------------------------------------------------------------


def test_a_cursor_walk_returns_the_window_exactly_ascending_without_duplicates(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    pages = list(walk(client, "dockets/", window_params(*WINDOW)))
    rows = [row for page in pages for row in page["results"]]
    ids = [row["id"] for row in rows]
    assert ids == expected_window(sandbox, "dockets", *WINDOW)
    assert len(ids) == len(set(ids)) > 100
    stamps = [datetime.fromisoformat(row["date_modified"]) for row in rows]
    assert stamps == sorted(stamps)
    assert all(WINDOW[0] <= s < WINDOW[1] for s in stamps)
    assert all(len(page["results"]) == 20 for page in pages[:-1])


def test_count_on_returns_the_number_and_costs_one_request(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    first = client.get("dockets/", params=window_params(*WINDOW)).json()
    before = admitted(sandbox)
    counted = client.get(first["count"])
    assert counted.json() == {"count": len(expected_window(sandbox, "dockets", *WINDOW))}
    assert admitted(sandbox) == before + 1


def test_page_numbers_are_refused_past_page_100(client: httpx.Client) -> None:
    ok = client.get("clusters/", params={"order_by": "date_filed", "page": "3"})
    assert ok.status_code == 200 and isinstance(ok.json()["count"], int)
    deep = client.get("clusters/", params={"order_by": "date_filed", "page": "101"})
    assert deep.status_code == 404
    assert deep.json()["detail"].startswith("Invalid page: Deep API pagination is not allowed.")


def test_courts_page_by_number_in_position_order(client: httpx.Client) -> None:
    bodies = list(walk(client, "courts/"))
    courts = [c for body in bodies for c in body["results"]]
    assert bodies[0]["count"] == len(courts) == len({c["id"] for c in courts}) == 420
    assert bodies[0]["next"].endswith("/courts/?page=2")
    assert [c["position"] for c in courts] == sorted(c["position"] for c in courts)


def test_unknown_parameters_are_400_and_still_cost_quota(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    before = admitted(sandbox)
    response = client.get("opinions/", params={"order_by": "id", "page_size": "100"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unknown filter parameters are not allowed.",
        "unknown_params": ["page_size"],
    }
    assert admitted(sandbox) == before + 1


def test_fields_and_omit_choose_the_serialized_fields(client: httpx.Client) -> None:
    picked = client.get("opinions/", params={"order_by": "id", "fields": "id,cluster_id"}).json()
    assert all(set(r) == {"id", "cluster_id"} for r in picked["results"])
    omitted = client.get("opinions/", params={"order_by": "id", "omit": "plain_text"}).json()
    assert all("plain_text" not in r and "cluster" in r for r in omitted["results"])


# -- routes --------------------------------------------------------------------------


def test_detail_routes_answer_200_404_301_and_410(client: httpx.Client) -> None:
    docket = client.get("dockets/1000/")
    assert docket.status_code == 200 and docket.json()["id"] == 1000
    assert docket.json()["resource_uri"].endswith("/api/rest/v4/dockets/1000/")
    assert client.get("dockets/999999/").status_code == 404
    assert client.get("courts/scotus/").json()["id"] == "scotus"
    merged = client.get("clusters/501/")
    assert merged.status_code == 301
    target = client.get(merged.headers["Location"])
    assert target.status_code == 200 and target.json()["id"] != 501
    assert client.get("clusters/601/").status_code == 410


def test_a_missing_trailing_slash_redirects_and_unknown_paths_are_404(
    sandbox: RunningSandbox,
) -> None:
    response = httpx.get(f"{sandbox.url}/dockets?order_by=id")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/api/rest/v4/dockets/?order_by=id")
    assert httpx.get(f"{sandbox.url}/nothing-here/").status_code == 404
    assert httpx.get(sandbox.url.replace("/v4", "/v1") + "/search/").status_code == 404


# -- throttling and api-usage ---------------------------------------------------------


def test_api_usage_reports_live_windows_and_is_free_of_the_main_quota(make_config: Any) -> None:
    with start_sandbox(make_config(rates=("30/min", "200/hour"))) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        with httpx.Client(base_url=sandbox.url + "/", headers=headers) as client:
            for _ in range(3):
                client.get("courts/")
            before = admitted(sandbox)
            body = client.get("api-usage/").json()
            again = client.get("api-usage/").json()
            assert admitted(sandbox) == before == 3
    assert set(body) == {"current_usage", "historical_usage", "membership"}
    assert body["membership"] is None
    rows = {(r["scope"], r["rate"]): r for r in body["current_usage"]}
    minute = rows[("user", "30/min")]
    assert (minute["used"], minute["limit"], minute["remaining"]) == (3, 30, 27)
    assert minute["window_seconds"] == 60 and minute["blocked"] is False
    assert datetime.fromisoformat(minute["reset_at"]) > datetime.now(UTC)
    assert rows[("user", "200/hour")]["window_seconds"] == 3600
    assert rows[("api_usage", "10/min")]["used"] == 1
    assert {r["scope"] for r in body["current_usage"]} >= {"user", "api_usage"}
    loads = [r["used"] / r["limit"] for r in again["current_usage"]]
    assert loads == sorted(loads, reverse=True)
    assert body["historical_usage"]["total"] == 3
    assert sum(v for k, v in body["historical_usage"].items() if k != "total") == 3
    empty = [r for r in body["current_usage"] if r["used"] == 0]
    assert empty and all(r["reset_at"] is None for r in empty)


def test_api_usage_has_its_own_throttle(make_config: Any) -> None:
    with start_sandbox(make_config(api_usage_rates=("2/min",))) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        statuses = [
            httpx.get(f"{sandbox.url}/api-usage/", headers=headers).status_code for _ in range(3)
        ]
        main = httpx.get(f"{sandbox.url}/courts/", headers=headers)
    assert statuses == [200, 200, 429]
    assert main.status_code == 200


def test_429_names_the_rate_and_rounds_retry_after_up(make_config: Any) -> None:
    with start_sandbox(make_config(rates=("2/3s",))) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        responses = [httpx.get(f"{sandbox.url}/courts/", headers=headers) for _ in range(3)]
        first = sandbox.state.admissions(DEMO_TOKEN)[0]
        refused_at = sandbox.state.decisions(DEMO_TOKEN)[-1][0]
        stats = sandbox.stats()
    assert [r.status_code for r in responses] == [200, 200, 429]
    refused = responses[-1]
    assert refused.headers["Retry-After"] == str(math.ceil(first + 3 - refused_at))
    assert refused.json()["detail"].startswith("Request was throttled. Rate limit exceeded: 2/3s.")
    assert stats["throttled"] == 1 and stats["admitted"] == 2
    assert stats["per_token"][token_label(DEMO_TOKEN)] == {
        "admitted": 2, "throttled": 1, "api_usage": 0,
    }  # fmt: skip


def test_a_blocked_account_gets_429_without_retry_after(
    sandbox: RunningSandbox, tokens: dict[str, str]
) -> None:
    response = httpx.get(
        f"{sandbox.url}/dockets/", headers={"Authorization": f"Token {tokens['blocked']}"}
    )
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert sandbox.state.admissions(tokens["blocked"]) == []


def test_rates_and_usage_can_change_while_serving(make_config: Any, tokens: dict[str, str]) -> None:
    with start_sandbox(make_config(rates=("100/min",))) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        assert httpx.get(f"{sandbox.url}/courts/", headers=headers).status_code == 200
        sandbox.add_usage(DEMO_TOKEN, 99)
        assert httpx.get(f"{sandbox.url}/courts/", headers=headers).status_code == 429
        other = {"Authorization": f"Token {tokens['other']}"}
        assert httpx.get(f"{sandbox.url}/courts/", headers=other).status_code == 200
        sandbox.reset_throttle()
        sandbox.set_rates(["1/min"])
        codes = [httpx.get(f"{sandbox.url}/courts/", headers=headers).status_code for _ in range(2)]
        usage = httpx.get(f"{sandbox.url}/api-usage/", headers=headers).json()
    assert codes == [200, 429]
    assert [r["rate"] for r in usage["current_usage"] if r["scope"] == "user"] == ["1/min"]
    assert usage["historical_usage"]["total"] == 101


# -- test hooks ----------------------------------------------------------------------


def test_a_touched_record_reappears_later_in_the_walk_with_new_content(
    make_config: Any,
) -> None:
    lo, hi = WINDOW
    with start_sandbox(make_config()) as sandbox:
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        with httpx.Client(headers=headers) as client:
            first = client.get(f"{sandbox.url}/dockets/", params=window_params(lo, hi)).json()
            moved = first["results"][0]
            later = datetime(2024, 2, 9, 23, 0, tzinfo=UTC)  # still inside the window
            assert sandbox.touch("dockets", [moved["id"]], later) == 1
            rest = [r for page in walk(client, first["next"]) for r in page["results"]]
        expected = expected_window(sandbox, "dockets", lo, hi)
    again = [r for r in rest if r["id"] == moved["id"]]
    assert len(again) == 1
    assert datetime.fromisoformat(again[0]["date_modified"]) == later
    assert again[0]["case_name"] != moved["case_name"]
    assert [r["id"] for r in first["results"][1:]] + [r["id"] for r in rest] == expected
