"""CourtListenerHook against the sandbox: the UI's connection test (free of quota) and a
budgeted client, both from an ``AIRFLOW_CONN_<ID>`` connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_support import connection

from courtflow.airflow.hooks import CourtListenerHook
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.server import RunningSandbox, start_sandbox

OTHER = "0abc0abc0abc0abc0abc0abc0abc0abc0abc0abc"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(volumes={"dockets": 40})) as running:
        yield running


def use(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, token: str, db: Path) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection(
        host=url, password=token, extra={"database_url": f"sqlite:///{db}"}))  # fmt: skip


def test_connection_test_reports_the_rates_and_spends_no_quota(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(monkeypatch, "cl_hook_ok", sandbox.url, DEMO_TOKEN, tmp_path / "t.sqlite")
    ok, message = CourtListenerHook("cl_hook_ok").test_connection()
    assert ok and "5000/hour" in message, message
    assert sandbox.stats()["admitted"] == 0  # api-usage/ is free


def test_connection_test_fails_on_a_bad_token_without_showing_it(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(monkeypatch, "cl_hook_bad", sandbox.url, OTHER, tmp_path / "t.sqlite")
    ok, message = CourtListenerHook("cl_hook_bad").test_connection()
    assert not ok and message.startswith("AuthError") and OTHER not in message


def test_get_conn_gives_a_client_whose_calls_are_reserved_in_the_ledger(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    from courtflow.catalogue.resources import get_resource

    use(monkeypatch, "cl_hook_conn", sandbox.url, DEMO_TOKEN, tmp_path / "t.sqlite")
    with CourtListenerHook("cl_hook_conn").get_conn() as client:
        pages = list(client.iter_pages(get_resource("dockets")))
    engine = create_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    with engine.connect() as conn:
        reserved = conn.execute(text("SELECT count(*) FROM api_call_ledger")).scalar_one()
    engine.dispose()
    assert reserved == len(pages) == sandbox.stats()["admitted"] >= 2
