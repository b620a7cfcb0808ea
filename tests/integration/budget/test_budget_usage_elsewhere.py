"""Usage made elsewhere with the same token, and api-usage/'s own limit, on the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from usage_load import Job, reconciler, settings_of, syncer

from courtflow.budget.tables import EXTERNAL, api_call_ledger
from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.window import Window
from courtflow.run.sync import open_pipeline
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.lockstep import run_in_lockstep
from courtflow.sandbox.server import token_label
from courtflow.store.engine import dispose_engine, make_engine
from courtflow.store.migrate import upgrade

HEADERS = {"Authorization": f"Token {DEMO_TOKEN}"}


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A database of its own: the tests count every external row of the demo token."""
    from pg_support import scratch_database

    with scratch_database("courtflow_usage", pg_url) as url:
        upgrade(make_engine(url))
        yield url
        dispose_engine(url)


def calls_elsewhere(sandbox: RunningSandbox, count: int, spacing: float) -> None:
    """Another client with the same token: ``count`` calls, ``spacing`` seconds apart."""
    with httpx.Client(headers=HEADERS) as http:
        for i in range(count):
            if i:
                time.sleep(spacing)
            answer = http.get(f"{sandbox.url}/dockets/", params={"order_by": "id"})
            assert answer.status_code == 200


def external_calls(db_url: str) -> int:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        value = conn.execute(
            select(func.coalesce(func.sum(api_call_ledger.c.weight), 0)).where(
                api_call_ledger.c.outcome == EXTERNAL
            )
        ).scalar_one()
    return int(value)


def test_a_process_started_after_usage_elsewhere_gets_no_429(sqlite_url: str) -> None:
    """Nine calls spread over most of the window, then a sync of ~25 pages at that rate.

    How many of the nine the server still counts when the sync asks ``api-usage/``
    depends on how fast the process starts (a busy host: 7, not 9). The server's own
    logs say exactly: its admission times and the moment it answered ``api-usage/``.
    """
    upgrade(make_engine(sqlite_url))  # migrated first: the pipeline starts at once after
    with start_sandbox(SandboxConfig(rates=("10/6s",))) as sandbox:
        calls_elsewhere(sandbox, 9, 0.6)
        elsewhere = sandbox.state.admissions(DEMO_TOKEN)
        settings = settings_of(Job(sqlite_url, sandbox.url, rates="10/6s"))
        start = datetime(2024, 1, 1, tzinfo=UTC)
        with open_pipeline(settings, run_id="after") as p:
            result = p.sync(get_resource("dockets"), Window(start, start + timedelta(days=14)),
                            run_id="after")  # fmt: skip
        asked = [t for t, admitted in sandbox.state.usage_throttle.decisions(DEMO_TOKEN)
                 if admitted]  # fmt: skip
        stats = sandbox.stats()
    assert stats["throttled"] == 0  # the ledger released no call before the server did
    assert result.pages >= 20  # long enough to meet every placed call's expiry
    assert len(elsewhere) == 9 and len(asked) == 1  # one answer: at the process start
    # The calls elsewhere the server counted in its 6 s window when it answered.
    counted = sum(1 for t in elsewhere if t > asked[0] - 6.0)
    if counted == 0:
        pytest.skip("the sync asked api-usage/ a whole window after the calls elsewhere")
    assert external_calls(sqlite_url) == counted  # each placed once, none lost


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_three_processes_reconciling_at_once_do_not_double_count(
    dialect: str, request: pytest.FixtureRequest
) -> None:
    db = request.getfixturevalue("fresh_pg" if dialect == "postgresql" else "sqlite_url")
    upgrade(make_engine(db))
    with start_sandbox(SandboxConfig(rates=("50/min",))) as sandbox:
        calls_elsewhere(sandbox, 9, 0.05)
        _, added = run_in_lockstep(reconciler, Job(db, sandbox.url), processes=3, seconds=0.0)
        usage_calls = sandbox.stats()["per_token"][token_label(DEMO_TOKEN)]["api_usage"]
    assert external_calls(db) == 9  # not 27, nor 7 + 5 + 4
    assert sum(added) == 9
    assert 1 <= usage_calls <= 3


@pytest.fixture
def sixteen_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(volumes={"dockets": 600})) as sb:
        yield sb


@pytest.mark.slow  # 16 spawned interpreters on two shared cores: about a minute
def test_sixteen_processes_starting_at_once_stay_within_api_usage_limit(
    fresh_pg: str, sixteen_sandbox: RunningSandbox
) -> None:
    job = Job(fresh_pg, sixteen_sandbox.url)
    _, loaded = run_in_lockstep(syncer, job, processes=16, seconds=0.0, finish_timeout=300.0)
    stats = sixteen_sandbox.stats()
    usage_calls = stats["per_token"][token_label(DEMO_TOKEN)]["api_usage"]
    assert len(loaded) == 16 and all(done for _, done in loaded)  # every process synced
    assert sum(pages for pages, _ in loaded) >= 8
    assert stats["per_status"].get("429", 0) == 0  # none on api-usage/ (nor on the quota)
    assert 1 <= usage_calls <= 10  # its 10/min, whatever the number of processes
