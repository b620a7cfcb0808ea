"""classify(): one status -> one error class; the message carries status, path and detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from courtflow.client import RetryPolicy, classify, should_retry
from courtflow.client.retry import parse_retry_after
from courtflow.errors import (
    AuthError,
    BadPayloadError,
    BadRequestError,
    BlockedError,
    BudgetExhaustedError,
    CourtflowError,
    GoneError,
    NetworkError,
    NotFoundError,
    ServerError,
    ThrottledError,
)

URL = "https://cl.test/api/rest/v4/dockets/?order_by=date_modified"


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("GET", URL)
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, None, None),
        (204, None, None),
        (301, {"Location": "/api/rest/v4/clusters/2/"}, None),
        (308, {"Location": "/api/rest/v4/clusters/2/"}, None),
        (301, None, BadPayloadError),
        (400, None, BadRequestError),
        (401, None, AuthError),
        (403, None, AuthError),
        (404, None, NotFoundError),
        (405, None, BadRequestError),
        (408, None, NetworkError),
        (410, None, GoneError),
        (429, {"Retry-After": "7"}, ThrottledError),
        (429, None, BlockedError),
        (429, {"Retry-After": "soon"}, BlockedError),
        (500, None, ServerError),
        (502, None, ServerError),
        (503, None, ServerError),
        (504, None, ServerError),
    ],
)
def test_classify_maps_each_status_to_one_error_class(
    status: int, headers: dict[str, str] | None, expected: type[CourtflowError] | None
) -> None:
    error = classify(response(status, {"detail": "x"}, headers))
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected


def test_400_message_has_status_path_detail_and_unknown_params() -> None:
    body = {"detail": "Unknown filter parameters are not allowed.", "unknown_params": ["bogus"]}
    error = classify(response(400, body))
    assert isinstance(error, BadRequestError)
    text = str(error)
    assert "HTTP 400" in text
    assert "/api/rest/v4/dockets/" in text
    assert "Unknown filter parameters are not allowed." in text
    assert "bogus" in text


def test_429_with_retry_after_carries_the_wait() -> None:
    body = {"detail": "Request was throttled. Expected available in 7 seconds."}
    error = classify(response(429, body, {"Retry-After": "7"}))
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 7.0
    assert "Expected available in 7 seconds" in str(error)


def test_429_without_retry_after_is_fatal() -> None:
    error = classify(response(429, {"detail": "Request was throttled."}))
    assert isinstance(error, BlockedError)
    assert not should_retry(error, max_sleep=60)


def test_non_json_error_body_is_quoted_in_the_message() -> None:
    request = httpx.Request("GET", URL)
    error = classify(httpx.Response(502, text="<html>Bad gateway</html>", request=request))
    assert isinstance(error, ServerError)
    assert "Bad gateway" in str(error)


def test_retry_after_http_date_is_seconds_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == 30.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("") is None


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ServerError("x"), True),
        (NetworkError("x"), True),
        (BadPayloadError("x"), True),
        (ThrottledError("x", retry_after=5), True),
        (ThrottledError("x", retry_after=600), False),  # longer than max_sleep: let caller defer
        (BudgetExhaustedError("x", available_at=0, wait_seconds=1), False),
        (AuthError("x"), False),
        (BadRequestError("x"), False),
        (BlockedError("x"), False),
        (GoneError("x"), False),
    ],
)
def test_retry_predicate_retries_only_transient_errors(error: Exception, retry: bool) -> None:
    assert should_retry(error, max_sleep=60) is retry


def test_retry_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
