"""A filter value production refuses costs no call; one it accepts reaches the server.

``courtflow sync`` against the sandbox, on SQLite and PostgreSQL: ``type=nonsense`` is
refused before anything is opened (the ledger and the sandbox see nothing), while
``--filter type=020lead --filter type=010combined`` is sent as repeated parameters, as
production's ``MultipleChoiceFilter`` reads them: the table holds exactly the rows of
either type, and the values' order does not change the scope.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from bounds import bound
from courtflow.budget.tables import api_call_ledger
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from pg_support import target_database

SINCE, UNTIL = "1990-01-01T00:00:00Z", "2030-01-01T00:00:00Z"
AUTH = {"Authorization": f"Token {DEMO_TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(rates=("1000000/hour",), seed=5, volumes={"opinions": 300})
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with target_database(request.param, tmp_path, "courtflow_values") as url:
        yield url


def sync(sandbox: RunningSandbox, db: str, *filters: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "courtflow.cli", "sync", "--resource", "opinions",
            "--since", SINCE, "--until", UNTIL]  # fmt: skip
    for item in filters:
        argv += ["--filter", item]
    env = {**os.environ, "COURTLISTENER_API_BASE_URL": sandbox.url,
           "COURTLISTENER_API_TOKEN": DEMO_TOKEN, "COURTFLOW_DATABASE_URL": db,
           "COURTFLOW_RATES": "1000000/hour"}  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=bound(300))


def ledger_calls(db: str) -> int:
    engine = create_engine(db)
    try:
        if not inspect(engine).has_table(api_call_ledger.name):
            return 0  # nothing was ever opened: no call either
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(api_call_ledger)).scalar_one())
    finally:
        engine.dispose()


def server_ids(sandbox: RunningSandbox, params: list[tuple[str, str]]) -> set[int]:
    """The scope walked directly, with the parameters exactly as given (repeated)."""
    query: list[tuple[str, str]] | None = [
        ("order_by", "date_modified"), ("date_modified__gte", SINCE),
        ("date_modified__lt", UNTIL), *params,
    ]  # fmt: skip
    url: str | None = f"{sandbox.url}/opinions/"
    found: set[int] = set()
    with httpx.Client(headers=AUTH) as client:
        while url is not None:
            body = client.get(url, params=query).raise_for_status().json()
            found.update(r["id"] for r in body["results"])
            url, query = body["next"], None
    return found


def test_the_sandbox_refuses_an_invalid_choice_as_production_does(sandbox: RunningSandbox) -> None:
    for params in ([("type", "nonsense")], [("type", "010combined"), ("type", "nonsense")]):
        response = httpx.get(f"{sandbox.url}/opinions/", params=params, headers=AUTH)
        assert response.status_code == 400
        assert response.json() == {
            "type": ["Select a valid choice. nonsense is not one of the available choices."]
        }


def test_a_refused_value_costs_nothing_and_an_accepted_one_reaches_the_server(
    sandbox: RunningSandbox, db: str
) -> None:
    # Refused first, on a database never opened: nothing opened, nothing spent.
    before = sandbox.stats()
    refused = sync(sandbox, db, "type=nonsense")
    assert refused.returncode == 2, refused.stderr
    assert "'nonsense' is not one of the valid values: 010combined, 015unamimous" in (
        refused.stderr
    )
    assert ledger_calls(db) == 0
    assert sandbox.stats()["per_status"] == before["per_status"]  # no request at all

    lead, combined = server_ids(sandbox, [("type", "020lead")]), server_ids(
        sandbox, [("type", "010combined")])  # fmt: skip
    both = server_ids(sandbox, [("type", "020lead"), ("type", "010combined")])
    assert lead and combined and both == lead | combined  # the server reads every value

    accepted = sync(sandbox, db, "type=020lead", "type=010combined")
    assert accepted.returncode == 0, accepted.stderr
    spent = ledger_calls(db)
    assert spent > 0
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            stored = {r[0] for r in conn.execute(text("SELECT id FROM cl_opinions"))}
            scopes = conn.execute(
                text("SELECT DISTINCT scope FROM sync_checkpoints WHERE resource = 'opinions'")
            ).scalars().all()
    finally:
        engine.dispose()
    assert stored == both
    assert scopes == ["type=010combined&type=020lead"]

    # A value refused after a successful run: still no call, the ledger unchanged.
    before = sandbox.stats()
    again = sync(sandbox, db, "type=020lead", "type=nonsense")
    assert again.returncode == 2 and "'nonsense'" in again.stderr
    assert ledger_calls(db) == spent
    assert sandbox.stats()["per_status"] == before["per_status"]
