"""Hostile configuration: credentials in the base URL, values at the edges, NaN."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from courtflow.budget.rates import parse_rate
from courtflow.catalogue.window import Window, check_step, parse_instant
from courtflow.config import Settings
from courtflow.errors import ConfigError

WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:pa55word@www.courtlistener.com/api/rest/v4",
        "http://pa55word@127.0.0.1:8000/api/rest/v4",
        "https://alice:pa55word@[::1/api/rest/v4",
    ],
)
def test_credentials_in_the_base_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"COURTLISTENER_API_BASE_URL": url})
    assert "pa55word" not in str(info.value) and "alice" not in str(info.value)
    assert "COURTLISTENER_API_BASE_URL" in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COURTFLOW_HEADROOM", "nan"),
        ("COURTFLOW_MAX_SLEEP", "inf"),
        ("COURTFLOW_MAX_SLEEP", "1e308"),
        ("COURTFLOW_REQUEST_DEADLINE", "0"),
        ("COURTFLOW_MAX_BODY_BYTES", "1e30"),
        ("COURTFLOW_DB_RETRY_SECONDS", "-1"),
    ],
)
def test_numbers_outside_sane_bounds_are_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_request_limits_are_configurable() -> None:
    s = Settings.from_env({"COURTFLOW_REQUEST_DEADLINE": "30", "COURTFLOW_MAX_BODY_BYTES": "2048",
                           "COURTFLOW_DB_RETRY_SECONDS": "5"})  # fmt: skip
    assert (s.request_deadline, s.max_body_bytes, s.db_retry_seconds) == (30.0, 2048, 5.0)


@pytest.mark.parametrize(
    "text", ["9" * 5000 + "/hour", "99999999999/hour", "5/999999999999d", "5/400d"]
)
def test_huge_rates_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ConfigError, match="rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    "text", ["0001-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-08:00", "1800-01-01"]
)
def test_instants_near_year_1_or_9999_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ConfigError, match="--since year"):
        parse_instant(text, name="--since")


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), -1.0, 0.0, 0.001, 1e12])
def test_backfill_steps_outside_bounds_are_refused_naming_the_value(hours: float) -> None:
    with pytest.raises(ConfigError, match="--step-hours"):
        check_step(hours, WINDOW)


def test_a_step_that_splits_into_too_many_windows_is_refused() -> None:
    long = Window(datetime(1950, 1, 1, tzinfo=UTC), datetime(2150, 1, 1, tzinfo=UTC))
    with pytest.raises(ConfigError, match="windows"):
        check_step(1 / 60, long)
    assert check_step(24, WINDOW).total_seconds() == 86400
