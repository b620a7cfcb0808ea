"""Contract tests: the client against the CourtListener sandbox on 127.0.0.1.

Each status and fault the sandbox can produce must land in the right error class, be
retried (or not) as the hierarchy says, and never leak the token into logs, printed
output or exception text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from courtflow.catalogue.resources import get_resource
from courtflow.client import (
    CallReport,
    CourtListenerClient,
    Page,
    PassThroughGate,
    RetryPolicy,
    Ticket,
)
from courtflow.config import Settings
from courtflow.errors import (
    AuthError,
    BadPayloadError,
    BadRequestError,
    BlockedError,
    CourtflowError,
    GoneError,
    NetworkError,
    ServerError,
    ThrottledError,
)
from courtflow.redact import Secret
from courtflow.sandbox import DEMO_TOKEN, FaultConfig, SandboxConfig, start_sandbox, token_label

pytestmark = pytest.mark.timeout(60)

DOCKETS = get_resource("dockets")
COURTS = get_resource("courts")
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)
SMALL = {
    "dockets": 240,
    "clusters": 20,
    "opinions": 20,
    "docket-entries": 20,
    "recap-documents": 20,
    "people": 20,
}
BLOCKED_TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
OTHER_TOKEN = "1111111111111111111111111111111111111111"
FAST_RETRY = RetryPolicy(attempts=3, initial=0.01, max=0.05, jitter=0.01)


@dataclass
class CountingGate(PassThroughGate):
    reserved: list[str] = field(default_factory=list)
    reports: list[CallReport] = field(default_factory=list)
    throttles: list[float] = field(default_factory=list)

    def reserve(self, endpoint: str) -> Ticket:
        self.reserved.append(endpoint)
        return super().reserve(endpoint)

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.reports.append(report)

    def throttled(self, retry_after: float) -> None:
        self.throttles.append(retry_after)


def sandbox_config(**changes: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "rates": ("100000/hour",),
        "tokens": (DEMO_TOKEN,),
        "blocked_tokens": (BLOCKED_TOKEN,),
        "seed": 7,
        "volumes": SMALL,
        "start": START,
        "end": END,
    }
    values.update(changes)
    return SandboxConfig(**values)


def make_client(
    url: str,
    gate: CountingGate,
    *,
    token: str | None = DEMO_TOKEN,
    retry: RetryPolicy = FAST_RETRY,
    **settings: Any,
) -> CourtListenerClient:
    config = Settings(
        base_url=url,
        token=Secret(token) if token else None,
        connect_timeout=2.0,
        read_timeout=5.0,
        max_attempts=retry.attempts,
        max_sleep=10.0,
    ).with_overrides(**settings)
    return CourtListenerClient(config, gate, retry=retry)


def ids(pages: Iterable[Page]) -> list[Any]:
    return [row["id"] for page in pages for row in page.results]


def assert_no_token(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    *extra: object,
) -> None:
    out, err = capsys.readouterr()
    texts = [caplog.text, out, err, *(repr(vars(r)) for r in caplog.records)]
    texts += [str(x) for x in extra] + [repr(x) for x in extra]
    for text in texts:
        assert DEMO_TOKEN not in text


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with start_sandbox(sandbox_config()) as sandbox:
        yield sandbox.url


# -- data contract -------------------------------------------------------------------


def test_full_cursor_walk_of_a_window_matches_count(
    sandbox_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    since, until = datetime(2024, 1, 10, tzinfo=UTC), datetime(2024, 2, 20, tzinfo=UTC)
    gate = CountingGate()
    with caplog.at_level("INFO"), make_client(sandbox_url, gate) as client:
        expected = client.count(DOCKETS, since=since, until=until)
        pages = list(client.iter_pages(DOCKETS, since=since, until=until))
    rows = [row for page in pages for row in page.results]
    assert expected > 20  # more than one page, fewer than the whole volume
    assert len(rows) == expected
    assert len({row["id"] for row in rows}) == expected
    modified = [datetime.fromisoformat(row["date_modified"]) for row in rows]
    assert modified == sorted(modified)
    assert all(since <= m < until for m in modified)
    assert all(page.count is None for page in pages)
    assert len(gate.reserved) == len(pages) + 1  # one count=on call, one call per page
    assert_no_token(caplog, capsys)


def test_walk_resumed_from_a_saved_next_url_continues_without_gaps(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client:
        full = ids(client.iter_pages(DOCKETS, since=START, until=END))
        first = next(iter(client.iter_pages(DOCKETS, since=START, until=END)))
        assert first.next_url is not None
        rest = ids(client.iter_pages(DOCKETS, resume_url=first.next_url))
    assert ids([first]) + rest == full


def test_courts_walk_by_page_numbers_matches_integer_count(sandbox_url: str) -> None:
    with make_client(sandbox_url, CountingGate()) as client:
        total = client.count(COURTS)
        pages = list(client.iter_pages(COURTS))
    assert all(page.count == total for page in pages)
    assert sum(len(page.results) for page in pages) == total
    assert len({row["id"] for page in pages for row in page.results}) == total


def test_api_usage_parses_and_is_not_gated(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client:
        client.get("dockets/", {"order_by": "date_modified"})
        usage = client.api_usage()
    assert gate.reserved == ["dockets/"]
    assert [w.rate for w in usage.user_windows] == ["100000/hour"]
    assert usage.user_windows[0].used >= 1
    assert usage.historical.get("total", 0) >= 1


# -- statuses ------------------------------------------------------------------------


def test_bad_token_is_an_auth_error_never_retried(
    sandbox_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = CountingGate()
    with (
        caplog.at_level("INFO"),
        make_client(sandbox_url, gate, token=OTHER_TOKEN) as client,
        pytest.raises(AuthError) as info,
    ):
        list(client.iter_pages(DOCKETS))
    assert len(gate.reserved) == 1
    assert "HTTP 401" in str(info.value)
    assert OTHER_TOKEN not in str(info.value) + caplog.text


def test_missing_token_is_an_auth_error(sandbox_url: str) -> None:
    with (
        make_client(sandbox_url, CountingGate(), token=None) as client,
        pytest.raises(AuthError, match="credentials"),
    ):
        list(client.iter_pages(DOCKETS))


def test_unknown_filter_is_a_bad_request_naming_the_parameter(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client, pytest.raises(BadRequestError) as info:
        client.get("dockets/", {"bogus_filter": "1"})
    assert "bogus_filter" in str(info.value)
    assert len(gate.reserved) == 1


def test_invalid_cursor_is_a_fatal_bad_request(sandbox_url: str) -> None:
    gate = CountingGate()
    bad = f"{sandbox_url}/dockets/?cursor=bm9wZQ%3D%3D&order_by=date_modified"
    with make_client(sandbox_url, gate) as client, pytest.raises(BadRequestError, match="404"):
        list(client.iter_pages(DOCKETS, resume_url=bad))
    assert len(gate.reserved) == 1


def test_blocked_token_is_fatal_without_retry(sandbox_url: str) -> None:
    gate = CountingGate()
    with (
        make_client(sandbox_url, gate, token=BLOCKED_TOKEN) as client,
        pytest.raises(BlockedError),
    ):
        list(client.iter_pages(DOCKETS))
    assert len(gate.reserved) == 1
    assert gate.throttles == []


def test_rate_limit_429_is_waited_out_and_retried() -> None:
    with start_sandbox(sandbox_config(rates=("2/2s",))) as sandbox:
        gate = CountingGate()
        with make_client(sandbox.url, gate) as client:
            for _ in range(3):
                client.get("courts/")
    statuses = [r.status for r in gate.reports]
    assert statuses.count(429) >= 1 and statuses.count(200) == 3
    assert gate.throttles and all(0 < t <= 2 for t in gate.throttles)


def test_merged_cluster_301_is_followed_through_the_gate(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client:
        cluster = client.get("clusters/501/")
    assert cluster["id"] != 501
    assert [r.status for r in gate.reports] == [301, 200]
    assert gate.reserved == ["clusters/", "clusters/"]


def test_missing_trailing_slash_redirect_is_followed(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client:
        body = client.get("courts", {"fields": "id"})
    assert isinstance(body["results"], list)
    assert [r.status for r in gate.reports] == [301, 200]


def test_sealed_cluster_410_is_gone_and_not_retried(sandbox_url: str) -> None:
    gate = CountingGate()
    with make_client(sandbox_url, gate) as client, pytest.raises(GoneError, match="sealed"):
        client.get("clusters/601/")
    assert [r.outcome for r in gate.reports] == ["gone"]


# -- faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "outcome"),
    [
        ({"p_500": 1.0}, ServerError, "http_error"),
        ({"p_502": 1.0}, ServerError, "http_error"),
        ({"p_503": 1.0}, ServerError, "http_error"),
        ({"p_reset": 1.0}, NetworkError, "network"),
        ({"p_truncated": 1.0}, BadPayloadError, "bad_payload"),
        ({"p_invalid_json": 1.0}, BadPayloadError, "bad_payload"),
        ({"p_slow": 1.0, "slow_seconds": 3.0}, NetworkError, "network"),
        ({"p_429_burst": 1.0, "burst_retry_after": 1, "burst_length": 50}, ThrottledError,
         "throttled"),
    ],
)
def test_every_fault_is_classified_retried_and_leaks_no_token(
    fault: dict[str, Any],
    error: type[CourtflowError],
    outcome: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = sandbox_config(faults=FaultConfig(seed=3, **fault))
    gate = CountingGate()
    retry = RetryPolicy(attempts=2, initial=0.01, max=0.05, jitter=0.01)
    with (
        caplog.at_level("INFO"),
        start_sandbox(config) as sandbox,
        make_client(sandbox.url, gate, retry=retry, read_timeout=0.5) as client,
        pytest.raises(error) as info,
    ):
        list(client.iter_pages(DOCKETS))
    assert len(gate.reserved) == 2  # transient: retried up to max attempts, each one gated
    assert [r.outcome for r in gate.reports] == [outcome, outcome]
    assert [r.attempt for r in gate.reports] == [1, 2]
    assert_no_token(caplog, capsys, info.value)


def test_walk_through_mixed_faults_returns_exactly_the_clean_rows(
    sandbox_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with make_client(sandbox_url, CountingGate()) as client:
        clean = ids(client.iter_pages(DOCKETS, since=START, until=END))
    faults = FaultConfig(
        seed=2, p_500=0.08, p_502=0.06, p_503=0.06, p_reset=0.06, p_truncated=0.06,
        p_invalid_json=0.06, p_429_burst=0.05, burst_retry_after=1, burst_length=1,
    )
    gate = CountingGate()
    retry = RetryPolicy(attempts=10, initial=0.01, max=0.05, jitter=0.01)
    with (
        caplog.at_level("INFO"),
        start_sandbox(sandbox_config(faults=faults)) as sandbox,
        make_client(sandbox.url, gate, retry=retry) as client,
    ):
        pages = list(client.iter_pages(DOCKETS, since=START, until=END))
        stats = sandbox.stats()
    assert ids(pages) == clean
    seen = stats["per_token"][token_label(DEMO_TOKEN)]
    # Every attempt the server saw (admitted or refused) went through the gate first.
    assert seen["admitted"] + seen["throttled"] == len(gate.reserved)
    assert sum(p.attempts for p in pages) == len(gate.reserved) > len(pages)
    assert {r.outcome for r in gate.reports} >= {"ok", "http_error", "bad_payload", "throttled"}
    assert_no_token(caplog, capsys)
