"""Every HTTP attempt passes the gate; retries, redirects and throttling as the server dictates."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from client_fakes import BASE, Harness, page

from courtflow.catalogue.resources import get_resource
from courtflow.errors import (
    AuthError,
    BadPayloadError,
    BadRequestError,
    BlockedError,
    BudgetExhaustedError,
    GoneError,
    NetworkError,
    ServerError,
    ThrottledError,
)

DOCKETS = get_resource("dockets")
MakeHarness = Callable[..., Harness]


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"id": 1})


def test_301_is_followed_as_a_new_gated_attempt(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [
        httpx.Response(301, headers={"Location": "/api/rest/v4/clusters/2/"}),
        ok({"id": 2}),
    ]
    assert h.client.get("clusters/1/") == {"id": 2}
    assert h.server.urls == [f"{BASE}/clusters/1/", f"{BASE}/clusters/2/"]
    assert [e for e, _ in h.gate.reserved] == ["clusters/", "clusters/"]
    assert [r.status for _, r in h.gate.reports] == [301, 200]
    assert [r.attempt for _, r in h.gate.reports] == [1, 2]


def test_redirect_to_another_host_is_refused_before_sending(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [httpx.Response(301, headers={"Location": "https://evil.test/x/"})]
    with pytest.raises(BadPayloadError, match="leaves the configured API host"):
        h.client.get("clusters/1/")
    assert len(h.server.requests) == 1


def test_endless_redirects_stop_with_a_fatal_error(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.handler = lambda r: httpx.Response(301, headers={"Location": str(r.url)})
    with pytest.raises(BadRequestError, match="redirects"):
        h.client.get("clusters/1/")
    assert len(h.server.requests) == 6


def test_410_raises_gone_without_retry(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [httpx.Response(410, json={"detail": "sealed"})]
    with pytest.raises(GoneError, match="sealed"):
        h.client.get("clusters/9/")
    assert len(h.server.requests) == 1
    assert h.gate.reports[0][1].outcome == "gone"


def test_transient_errors_are_retried_and_every_attempt_reserves(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=4)
    h.server.script = [
        httpx.Response(500, json={"detail": "boom"}),
        httpx.ConnectError("connection refused"),
        httpx.Response(200, text='{"results": [', headers={"Content-Type": "application/json"}),
        page([{"id": 1}], None),
    ]
    pages = list(h.client.iter_pages(DOCKETS))
    assert len(h.server.requests) == 4
    assert len(h.gate.reserved) == 4
    assert [r.outcome for _, r in h.gate.reports] == ["http_error", "network", "bad_payload", "ok"]
    assert [r.error_class for _, r in h.gate.reports] == [
        "ServerError", "NetworkError", "BadPayloadError", None,
    ]
    assert pages[0].attempts == 4
    backoffs = [s for s in h.clock.sleeps if s > 0]
    assert len(backoffs) == 3 and backoffs[0] < backoffs[2]


def test_max_attempts_is_respected(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=3)
    h.server.handler = lambda r: httpx.Response(503, json={"detail": "down"})
    with pytest.raises(ServerError, match=r"HTTP 503.*down"):
        h.client.get("dockets/")
    assert len(h.server.requests) == 3
    assert len(h.gate.reserved) == 3 and len(h.gate.reports) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (401, AuthError), (403, AuthError), (404, BadRequestError)],
)
def test_fatal_errors_are_never_retried(
    make_harness: MakeHarness, status: int, error: type[Exception]
) -> None:
    h = make_harness()
    h.server.handler = lambda r: httpx.Response(status, json={"detail": "nope"})
    with pytest.raises(error, match="nope"):
        list(h.client.iter_pages(DOCKETS))
    assert len(h.server.requests) == 1
    assert h.clock.sleeps == []


def test_read_timeout_is_a_network_error_and_is_retried(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=2)
    h.server.handler = lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out"))
    with pytest.raises(NetworkError, match="ReadTimeout"):
        h.client.get("dockets/")
    assert len(h.server.requests) == 2
    assert all(r.status is None and r.outcome == "network" for _, r in h.gate.reports)


class _TruncatedStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"count": "x", "results": [{"id'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def test_truncated_body_is_a_bad_payload_and_is_retried(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [httpx.Response(200, stream=_TruncatedStream()), page([{"id": 1}], None)]
    pages = list(h.client.iter_pages(DOCKETS))
    assert pages[0].results == ({"id": 1},)
    assert [r.outcome for _, r in h.gate.reports] == ["bad_payload", "ok"]
    assert h.gate.reports[0][1].status == 200


def test_429_with_retry_after_reports_throttle_then_waits_it_out(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [
        httpx.Response(429, json={"detail": "throttled"}, headers={"Retry-After": "7"}),
        page([{"id": 1}], None),
    ]
    list(h.client.iter_pages(DOCKETS))
    assert h.gate.throttles == [7.0]
    assert h.gate.events == ["reserve", "throttled", "report", "reserve", "report"]
    assert h.gate.reports[0][1].outcome == "throttled"
    assert max(h.clock.sleeps) >= 7.0
    assert h.server.times[1] - h.server.times[0] >= 7.0


def test_retry_after_is_honoured_even_with_the_pass_through_gate(make_harness: MakeHarness) -> None:
    h = make_harness(gate=False)
    h.server.script = [
        httpx.Response(429, json={"detail": "throttled"}, headers={"Retry-After": "12"}),
        httpx.Response(429, json={"detail": "throttled"}, headers={"Retry-After": "3"}),
        ok(),
    ]
    h.client.get("dockets/1/")
    assert h.server.times[1] - h.server.times[0] >= 12.0
    assert h.server.times[2] - h.server.times[1] >= 3.0


def test_the_next_request_also_waits_out_a_previous_retry_after(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=1)
    h.server.script = [
        httpx.Response(429, json={"detail": "throttled"}, headers={"Retry-After": "9"}),
        ok(),
    ]
    with pytest.raises(ThrottledError):
        h.client.get("dockets/1/")
    h.client.get("dockets/1/")
    assert h.server.times[1] - h.server.times[0] >= 9.0


def test_retry_after_longer_than_max_sleep_is_raised_for_the_caller(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_sleep=30.0)
    h.server.script = [httpx.Response(429, json={"detail": "t"}, headers={"Retry-After": "600"})]
    with pytest.raises(ThrottledError) as info:
        h.client.get("dockets/")
    assert info.value.retry_after == 600.0
    assert len(h.server.requests) == 1
    assert h.clock.sleeps == []


def test_429_without_retry_after_is_blocked_and_not_retried(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.handler = lambda r: httpx.Response(429, json={"detail": "Request was throttled."})
    with pytest.raises(BlockedError):
        h.client.get("dockets/")
    assert len(h.server.requests) == 1
    assert h.gate.throttles == []


def test_budget_exhausted_propagates_untouched_and_nothing_is_sent(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    h.gate.fail_on_reserve = 1
    with pytest.raises(BudgetExhaustedError) as info:
        h.client.get("dockets/")
    assert info.value.wait_seconds == 3600
    assert h.server.requests == []
    assert h.gate.reports == []


def test_budget_exhausted_during_retries_is_not_retried(make_harness: MakeHarness) -> None:
    h = make_harness(max_attempts=5)
    h.gate.fail_on_reserve = 2
    h.server.handler = lambda r: httpx.Response(500, json={"detail": "boom"})
    with pytest.raises(BudgetExhaustedError):
        h.client.get("dockets/")
    assert len(h.server.requests) == 1
    assert len(h.gate.reports) == 1


def test_api_usage_skips_the_gate_but_is_logged(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness()
    h.server.script = [
        httpx.Response(
            200,
            json={
                "current_usage": [
                    {"scope": "user", "rate": "5000/hour", "used": 12, "limit": 5000,
                     "remaining": 4988, "window_seconds": 3600,
                     "reset_at": "2026-11-25T11:06:53.761767+00:00", "blocked": False},
                    {"scope": "api_usage", "rate": "10/min", "used": 1, "limit": 10,
                     "remaining": 9, "window_seconds": 60, "reset_at": None, "blocked": False},
                ],
                "historical_usage": {"2026-11-25": 12, "total": 12},
                "membership": None,
            },
        )
    ]
    with caplog.at_level("INFO", logger="courtflow.client"):
        usage = h.client.api_usage()
    assert [w.rate for w in usage.user_windows] == ["5000/hour"]
    assert h.gate.reserved == [] and h.gate.reports == []
    assert h.server.urls == [f"{BASE}/api-usage/"]
    records = [r for r in caplog.records if getattr(r, "event", None) == "api_call"]
    assert len(records) == 1 and records[0].endpoint == "api-usage/"


def test_api_usage_throttle_does_not_throttle_the_main_quota(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [
        httpx.Response(429, json={"detail": "t"}, headers={"Retry-After": "5"}),
        ok(),
    ]
    with pytest.raises(ThrottledError):
        h.client.api_usage()  # at once: no retry, no sleep (reconciliation is skipped)
    with pytest.raises(ThrottledError):
        h.client.api_usage()  # still held: not even sent
    assert h.gate.throttles == []
    h.client.get("dockets/1/")
    assert len(h.server.times) == 2
    assert h.server.times[1] == h.server.times[0]  # main scope was not held back


def test_every_attempt_is_logged_with_the_structured_fields(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness()
    h.server.script = [httpx.Response(502, text="bad gateway"), page([{"id": 1}], None)]
    with caplog.at_level("INFO", logger="courtflow.client"):
        list(h.client.iter_pages(DOCKETS, fields=["id"]))
    records = [r for r in caplog.records if r.name == "courtflow.client"]
    assert [r.attempt for r in records] == [1, 2]  # type: ignore[attr-defined]
    assert [r.status_code for r in records] == [502, 200]  # type: ignore[attr-defined]
    assert [r.outcome for r in records] == ["http_error", "ok"]  # type: ignore[attr-defined]
    last = records[1]
    assert last.event == "api_call" and last.endpoint == "dockets/"  # type: ignore[attr-defined]
    assert last.url == f"{BASE}/dockets/?order_by=date_modified&fields=id"  # type: ignore[attr-defined]
    assert last.bytes > 0 and last.duration_ms >= 0  # type: ignore[attr-defined]


def test_client_sends_user_agent_and_token_header(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [ok()]
    h.client.get("dockets/1/")
    sent = h.server.requests[0].headers
    assert sent["Authorization"].startswith("Token ")
    assert sent["User-Agent"].startswith("courtflow/")


def test_no_authorization_header_without_a_token(make_harness: MakeHarness) -> None:
    h = make_harness(token=False)
    h.server.script = [ok()]
    h.client.get("dockets/1/")
    assert "Authorization" not in h.server.requests[0].headers


def test_get_accepts_a_full_url_on_the_api_host_only(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.server.script = [ok()]
    h.client.get(f"{BASE}/courts/scotus/", {"fields": "id"})
    assert h.server.urls == [f"{BASE}/courts/scotus/?fields=id"]
    assert h.gate.reserved[0][0] == "courts/"
    with pytest.raises(BadPayloadError):
        h.client.get("https://elsewhere.test/api/rest/v4/courts/")
