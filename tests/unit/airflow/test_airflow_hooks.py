"""CourtListenerHook: settings come from the Airflow connection (a real secrets backend:
``AIRFLOW_CONN_<ID>`` environment variables), never from DAG code."""

from __future__ import annotations

import json

import pytest

from courtflow.airflow.hooks import (
    CourtListenerHook,
    base_url_from,
    settings_from_connection,
)
from courtflow.errors import ConfigError

TOKEN = "00112233445566778899aabbccddeeff00112233"


def test_connection_fields_override_the_environment() -> None:
    env = {"COURTLISTENER_API_TOKEN": "ff" * 20, "COURTFLOW_RATES": "5000/hour",
           "COURTFLOW_DATABASE_URL": "sqlite:///env.sqlite"}
    s = settings_from_connection(
        host="http://127.0.0.1:8000/api/rest/v4", password=TOKEN,
        extra={"rates": ["10/5s", "100/min"], "headroom": 0.25, "max_sleep": 0,
               "max_attempts": 2, "database_url": "postgresql://u@h/db"},
        env=env,
    )
    assert s.token is not None and s.token.reveal() == TOKEN
    assert s.base_url == "http://127.0.0.1:8000/api/rest/v4"
    assert [r.text for r in s.rates] == ["10/5s", "100/min"]
    assert (s.headroom, s.max_sleep, s.max_attempts) == (0.25, 0.0, 2)
    assert s.database_url == "postgresql+psycopg://u@h/db"


def test_empty_connection_fields_fall_back_to_the_environment() -> None:
    env = {"COURTLISTENER_API_TOKEN": TOKEN, "COURTFLOW_RATES": "7/min"}
    s = settings_from_connection(host=None, password=None, extra={"rates": ""}, env=env)
    assert s.token is not None and s.token.reveal() == TOKEN
    assert [r.text for r in s.rates] == ["7/min"]


def test_prefixed_ui_extras_are_read() -> None:
    s = settings_from_connection(host=None, password=None, env={},
                                 extra={"extra__courtlistener__rates": "3/s"})
    assert [r.text for r in s.rates] == ["3/s"]


def test_bare_host_gets_scheme_port_and_the_v4_path() -> None:
    assert base_url_from("www.courtlistener.com") == "https://www.courtlistener.com/api/rest/v4"
    assert base_url_from("localhost", port=8000, schema="http") == (
        "http://localhost:8000/api/rest/v4")
    assert base_url_from("https://x.test/api/rest/v4/") == "https://x.test/api/rest/v4"


def test_malformed_token_is_a_config_error_that_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_connection(host=None, password="not-a-token-secret", extra={}, env={})
    assert "not-a-token-secret" not in str(err.value)


def test_hook_reads_an_airflow_conn_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "courtlistener", "host": "http://127.0.0.1:9/api/rest/v4",
            "password": TOKEN, "extra": {"rates": "10/5s", "max_sleep": 0,
                                         "database_url": "sqlite:////tmp/courtflow-unit.sqlite"}}
    monkeypatch.setenv("AIRFLOW_CONN_CL_UNIT_HOOK", json.dumps(conn))
    settings = CourtListenerHook("cl_unit_hook").get_settings()
    assert settings.base_url == "http://127.0.0.1:9/api/rest/v4"
    assert settings.token is not None and settings.token.reveal() == TOKEN
    assert settings.max_sleep == 0.0 and [r.text for r in settings.rates] == ["10/5s"]
    assert TOKEN not in repr(settings)


def test_a_token_from_the_environment_is_registered_with_airflows_secrets_masker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tokens read from a connection are masked by Airflow itself; the environment
    # fallback must not be the one path that leaks.
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact as airflow_redact

    other = "abcdefabcdefabcdefabcdefabcdefabcdef0000"
    monkeypatch.delenv("AIRFLOW_CONN_COURTLISTENER_DEFAULT", raising=False)
    monkeypatch.setenv("COURTLISTENER_API_TOKEN", other)
    assert other in str(airflow_redact(f"before {other}"))  # not masked yet
    CourtListenerHook().get_settings()
    assert other not in str(airflow_redact(f"calling with {other} now"))


def test_a_named_connection_that_does_not_exist_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cl_unit_missing"):
        CourtListenerHook("cl_unit_missing").get_settings()


def test_default_connection_missing_means_the_environment_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_COURTLISTENER_DEFAULT", raising=False)
    monkeypatch.setenv("COURTFLOW_RATES", "9/min")
    assert [r.text for r in CourtListenerHook().get_settings().rates] == ["9/min"]


def test_a_bad_rate_in_the_connection_names_its_rates_field() -> None:
    with pytest.raises(ConfigError, match=r"^the connection's 'rates' field \(COURTFLOW_RATES\): "):
        settings_from_connection(host=None, password=None, extra={"rates": "5/fortnight"}, env={})
