from __future__ import annotations

import pytest

from courtflow.budget.rates import parse_rate, parse_rates, with_headroom
from courtflow.config import DEFAULT_BASE_URL, Settings
from courtflow.errors import ConfigError

TOKEN = "ab" * 20


def test_defaults_follow_the_environment_contract() -> None:
    s = Settings.from_env({})
    assert s.base_url == DEFAULT_BASE_URL
    assert s.token is None
    assert s.database_url == "sqlite:///courtflow.sqlite"
    assert [r.text for r in s.rates] == ["5000/hour"]
    assert s.budget_key == "anonymous"


def test_token_is_validated_and_never_shown() -> None:
    s = Settings.from_env({"COURTLISTENER_API_TOKEN": TOKEN})
    assert s.token is not None and s.token.reveal() == TOKEN
    assert TOKEN not in repr(s) and TOKEN not in str(s)
    assert TOKEN not in s.budget_key


@pytest.mark.parametrize("bad", ["short", "g" * 40, TOKEN + "0"])
def test_malformed_token_is_named_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError, match="COURTLISTENER_API_TOKEN is malformed") as info:
        Settings.from_env({"COURTLISTENER_API_TOKEN": bad})
    assert bad not in str(info.value)


@pytest.mark.parametrize(
    "url", ["www.courtlistener.com/api", "ftp://x/api/rest/v4", "https://x/api/rest/v1/search/"]
)
def test_malformed_base_url_is_named(url: str) -> None:
    with pytest.raises(ConfigError, match="COURTLISTENER_API_BASE_URL"):
        Settings.from_env({"COURTLISTENER_API_BASE_URL": url})


def test_database_url_is_normalised_to_psycopg3() -> None:
    s = Settings.from_env({"COURTFLOW_DATABASE_URL": "postgresql://u@h/db"})
    assert s.database_url == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError, match="COURTFLOW_DATABASE_URL"):
        Settings.from_env({"COURTFLOW_DATABASE_URL": "mysql://u@h/db"})


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [("5000/hour", 5000, 3600), ("5/min", 5, 60), ("150/20s", 150, 20), ("125/day", 125, 86400),
     ("10/m", 10, 60), ("3/2minute", 3, 120), ("1/sec", 1, 1)],
)
def test_rate_syntax(text: str, limit: int, period: float) -> None:
    rate = parse_rate(text)
    assert (rate.limit, rate.period) == (limit, period)


@pytest.mark.parametrize("text", ["5000", "x/hour", "5/fortnight", "5/0s", ""])
def test_bad_rates_are_named(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_rates(text)


def test_headroom_keeps_a_share_for_others() -> None:
    rates = with_headroom(parse_rates("100/min,5000/hour"), 0.1)
    assert [r.limit for r in rates] == [90, 4500]
    with pytest.raises(ConfigError):
        with_headroom(rates, 1.0)


def test_settle_lag_lookback_and_reject_ratio_are_read_and_checked() -> None:
    from datetime import timedelta

    from courtflow.config import DEFAULT_LOOKBACK, DEFAULT_SETTLE_LAG

    plain = Settings.from_env({})
    assert (plain.settle_lag, plain.lookback, plain.max_reject_ratio) == (
        DEFAULT_SETTLE_LAG, DEFAULT_LOOKBACK, 0.01)
    assert timedelta(minutes=5) == DEFAULT_SETTLE_LAG
    s = Settings.from_env({"COURTFLOW_SETTLE_LAG": "90s", "COURTFLOW_LOOKBACK": "0",
                           "COURTFLOW_MAX_REJECT_RATIO": "0.05"})  # fmt: skip
    assert (s.settle_lag, s.lookback, s.max_reject_ratio) == (
        timedelta(seconds=90), timedelta(0), 0.05)
    for env, name in (({"COURTFLOW_SETTLE_LAG": "soon"}, "COURTFLOW_SETTLE_LAG"),
                      ({"COURTFLOW_LOOKBACK": "-1h"}, "COURTFLOW_LOOKBACK"),
                      ({"COURTFLOW_MAX_REJECT_RATIO": "2"}, "COURTFLOW_MAX_REJECT_RATIO")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env(env)


def test_an_unsupported_database_is_named_unsupported_not_malformed() -> None:
    for url in ("mysql://u@h/db", "mysql+pymysql://u@h/db", "oracle://u@h/db"):
        with pytest.raises(ConfigError, match="not supported") as caught:
            Settings.from_env({"COURTFLOW_DATABASE_URL": url})
        assert "malformed" not in str(caught.value)
        assert url.split(":")[0].split("+")[0] + "://" in str(caught.value)
    with pytest.raises(ConfigError, match="malformed"):
        Settings.from_env({"COURTFLOW_DATABASE_URL": "not a url"})


def test_a_bad_rate_names_courtflow_rates() -> None:
    for bad in ("5/fortnight", "five/min", ",", "0x5/min"):
        with pytest.raises(ConfigError, match=r"^COURTFLOW_RATES: "):
            Settings.from_env({"COURTFLOW_RATES": bad})
