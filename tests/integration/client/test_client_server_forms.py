"""Answers of the real server not met in ordinary runs: reproduced by the sandbox, survived.

Retry-After as an HTTP date, a 429 without Retry-After for a '0/min' user, the daily
window running out (a wait of hours: defer with the time room comes back), a v3 base,
a 404 whose body is an HTML page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.client import CourtListenerClient
from courtflow.config import Settings
from courtflow.errors import (
    BadRequestError,
    BlockedError,
    BudgetExhaustedError,
    ConfigError,
    ThrottledError,
)
from courtflow.redact import Secret
from courtflow.sandbox import DEMO_TOKEN, SandboxConfig, start_sandbox
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade

HEADERS = {"Authorization": f"Token {DEMO_TOKEN}"}


def settings(url: str, **kw: object) -> Settings:
    return Settings(base_url=url, token=Secret(DEMO_TOKEN), **kw)  # type: ignore[arg-type]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_retry_after_as_an_http_date_is_waited_for() -> None:
    config = SandboxConfig(rates=("2/10s",), retry_after_form="http-date")
    with start_sandbox(config) as sandbox:
        before = datetime.now(UTC)
        with httpx.Client(headers=HEADERS) as http:
            for _ in range(2):
                http.get(f"{sandbox.url}/dockets/")
            refused = http.get(f"{sandbox.url}/dockets/")
        after = datetime.now(UTC)
        assert refused.status_code == 429
        when = parsedate_to_datetime(refused.headers["retry-after"])
        # The first call's expiry (10 s after it), both parts rounded up to whole seconds:
        # bounded by clock readings around the calls, however long they took.
        assert before + timedelta(seconds=10) <= when <= after + timedelta(seconds=12)
        sleeps = Sleeps()
        with (
            CourtListenerClient(settings(sandbox.url), sleep=sleeps) as client,
            pytest.raises(ThrottledError) as caught,
        ):
            client.get("dockets/")  # the sleeps are not real: the window stays full
    # Each 429 was understood as a wait of some seconds, and slept, not failed on.
    held = [w for w in sleeps.waits if w > 0]  # (retries themselves wait 0 after a 429)
    assert held and all(w <= 11 for w in held)
    assert 0 < caught.value.retry_after <= 11
    assert "room again at" in str(caught.value)


def test_a_zero_rate_user_gets_429_without_retry_after_and_stops_at_once() -> None:
    with start_sandbox(SandboxConfig(rates=("0/min",))) as sandbox:
        with httpx.Client(headers=HEADERS) as http:
            raw = http.get(f"{sandbox.url}/dockets/")
        assert raw.status_code == 429 and "retry-after" not in raw.headers
        assert raw.json() == {
            "detail": "Request was throttled. Your account is currently blocked from making "
            "API requests."
        }
        with (
            CourtListenerClient(settings(sandbox.url)) as client,
            pytest.raises(BlockedError) as caught,
        ):
            client.get("dockets/")
        assert sandbox.stats()["per_status"]["429"] == 2  # no retry of a blocked account
    assert "blocked" in str(caught.value)


def test_the_daily_window_running_out_defers_and_names_when_room_returns(
    sqlite_url: str,
) -> None:
    """The ledger knows: reserve raises at once, naming the moment, instead of sleeping."""
    with start_sandbox(SandboxConfig(rates=("5/min", "3/day"))) as sandbox:
        engine = make_engine(sqlite_url)
        upgrade(engine)
        s = settings(sandbox.url, database_url=sqlite_url, rates=parse_rates("5/min,3/day"))
        sleeps = Sleeps()
        budget = Budget.from_settings(s, engine, sleep=sleeps)
        with CourtListenerClient(s, budget) as client:
            for _ in range(3):
                client.get("dockets/")
            with pytest.raises(BudgetExhaustedError) as caught:
                client.get("dockets/")
    assert sleeps.waits == []  # no worker held for hours
    assert caught.value.wait_seconds > 23 * 3600
    back = datetime.fromtimestamp(caught.value.available_at, UTC).isoformat()
    assert back[:16] in str(caught.value)


def test_a_daily_429_from_the_server_is_raised_at_once_with_its_time() -> None:
    """Usage elsewhere emptied the day: the server's own 429 says hours; no sleep."""
    with start_sandbox(SandboxConfig(rates=("5/min", "3/day"))) as sandbox:
        sandbox.add_usage(DEMO_TOKEN, 3)
        sleeps = Sleeps()
        with (
            CourtListenerClient(settings(sandbox.url), sleep=sleeps) as client,
            pytest.raises(ThrottledError) as caught,
        ):
            client.get("dockets/")
    assert sleeps.waits == []
    assert caught.value.retry_after > 23 * 3600
    assert re.search(r"room again at \d{4}-\d\d-\d\dT", str(caught.value))


def test_a_v3_base_url_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ConfigError, match="v4"):
        Settings.from_env(
            {"COURTLISTENER_API_BASE_URL": "https://www.courtlistener.com/api/rest/v3"}
        )
    with pytest.raises(ConfigError, match="v4"):
        CourtListenerClient(Settings(base_url="https://www.courtlistener.com/api/rest/v3/"))
    assert Settings.from_env(
        {"COURTLISTENER_API_BASE_URL": "https://www.courtlistener.com/api/rest/v4/"}
    ).base_url.endswith("/v4")


def test_a_404_html_page_is_summed_up_not_quoted() -> None:
    page = (
        "<!doctype html><html lang=en><head><title>Not Found</title></head><body>"
        + "<p>"
        + "x" * 400
        + "</p></body></html>"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(404, html=page))
    s = Settings(base_url="https://cl.test/api/rest/v4", token=Secret(DEMO_TOKEN))
    with (
        CourtListenerClient(s, transport=transport) as client,
        pytest.raises(BadRequestError) as caught,
    ):
        client.get("dockets/")
    message = str(caught.value)
    assert message.endswith(": Not Found") and "<" not in message and len(message) < 160
