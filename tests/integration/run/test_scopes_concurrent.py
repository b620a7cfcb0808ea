"""Two scopes of one resource synced at once by two processes into one PostgreSQL table.

The scopes overlap (Federal appellate opinions, and combined opinions of every court):
the table ends with exactly the union of the two scopes' server rows, each once, each as
the server sends it; each scope has its own checkpoint and watermark, and rerunning
either spends no call. ``plan`` counts a scope with ``count=on`` as the server does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from bounds import bound
from courtflow.budget.tables import EXTERNAL, api_call_ledger, not_usage_key
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from pg_support import scratch_database

SINCE, UNTIL = "2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"
SCOPES = {
    "appellate": ["cluster__docket__court__jurisdiction=F"],
    "combined": ["type=010combined", "per_curiam=false"],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    # A little latency so the two processes' pages interleave.
    config = SandboxConfig(
        rates=("1000000/hour",), seed=3, latency_ms=5,
        volumes={"dockets": 200, "clusters": 400, "opinions": 800},
    )  # fmt: skip
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    with scratch_database("courtflow_scopes") as url:
        yield url


def command(sandbox: RunningSandbox, db: str, verb: str, scope: str) -> list[str]:
    argv = [sys.executable, "-m", "courtflow.cli", verb, "--resource", "opinions",
            "--since", SINCE, "--until", UNTIL]  # fmt: skip
    for item in SCOPES[scope]:
        argv += ["--filter", item]
    if verb == "sync":
        argv += ["--run-id", f"scope-{scope}"]
    if verb == "plan":  # the sync's one window (plan's own default steps by 24 h)
        argv += ["--step-hours", "1440"]
    return argv


def environment(sandbox: RunningSandbox, db: str) -> dict[str, str]:
    return {
        **os.environ,
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db,
        "COURTFLOW_RATES": "1000000/hour",
    }


def run_all(sandbox: RunningSandbox, db: str, verb: str, scopes: list[str]) -> list[str]:
    procs = [
        subprocess.Popen(command(sandbox, db, verb, s), env=environment(sandbox, db),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for s in scopes
    ]  # fmt: skip
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=bound(300))
        assert proc.returncode == 0, err
        outs.append(out + err)
    return outs


def server_ids(sandbox: RunningSandbox, scope: str) -> dict[int, str]:
    """The scope's rows walked directly: id -> date_modified."""
    params: dict[str, str] | None = {
        "order_by": "date_modified", "date_modified__gte": SINCE, "date_modified__lt": UNTIL,
        **dict(item.split("=", 1) for item in SCOPES[scope]),
    }  # fmt: skip
    url: str | None = f"{sandbox.url}/opinions/"
    found: dict[int, str] = {}
    with httpx.Client(headers={"Authorization": f"Token {DEMO_TOKEN}"}) as client:
        while url is not None:
            body = client.get(url, params=params).raise_for_status().json()
            found.update({r["id"]: r["date_modified"] for r in body["results"]})
            url, params = body["next"], None
    return found


def server_count(sandbox: RunningSandbox, scope: str) -> Any:
    params = {"count": "on", "order_by": "date_modified", "date_modified__gte": SINCE,
              "date_modified__lt": UNTIL, **dict(i.split("=", 1) for i in SCOPES[scope])}
    response = httpx.get(f"{sandbox.url}/opinions/", params=params,
                         headers={"Authorization": f"Token {DEMO_TOKEN}"})  # fmt: skip
    return response.raise_for_status().json()["count"]


def ledger_calls(db: str, task_id: str | None = None) -> int:
    """Calls courtflow reserved from the quota (of one task). Left out: asks of api-usage/
    (a budget of their own, free of the quota) and usage made elsewhere (this test's own
    direct calls, learnt whenever a reconciliation happens to run: on a slow host, a
    rerun may outlive the 15 s cache and look again)."""
    L = api_call_ledger.c
    stmt = select(func.count()).select_from(api_call_ledger).where(
        L.outcome != EXTERNAL, not_usage_key(L.budget_key)
    )
    if task_id is not None:
        stmt = stmt.where(api_call_ledger.c.task_id == task_id)
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
    finally:
        engine.dispose()


def test_two_scopes_at_once_store_exactly_the_union(sandbox: RunningSandbox, pg: str) -> None:
    appellate, combined = server_ids(sandbox, "appellate"), server_ids(sandbox, "combined")
    assert appellate and combined and set(appellate) & set(combined)  # the scopes overlap
    assert set(appellate) - set(combined) and set(combined) - set(appellate)

    run_all(sandbox, pg, "sync", ["appellate", "combined"])

    engine = create_engine(pg)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, date_modified FROM cl_opinions")).all()
            total, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT id) FROM cl_opinions")
            ).one()
            checkpoints = conn.execute(
                text("SELECT scope, done FROM sync_checkpoints WHERE resource = 'opinions' "
                     "ORDER BY scope")
            ).all()  # fmt: skip
            watermarks = conn.execute(
                text("SELECT scope FROM sync_watermarks WHERE resource = 'opinions' ORDER BY 1")
            ).scalars().all()
    finally:
        engine.dispose()
    union = {**appellate, **combined}
    assert total == distinct == len(union)
    assert {r.id for r in rows} == set(union)
    keys = sorted(["cluster__docket__court__jurisdiction=F", "per_curiam=false&type=010combined"])
    assert [tuple(c) for c in checkpoints] == [(k, True) for k in keys]
    assert list(watermarks) == keys

    before = ledger_calls(pg)
    for scope in ("appellate", "combined"):
        (out,) = run_all(sandbox, pg, "sync", [scope])
        assert "already complete" in out
    assert ledger_calls(pg) == before  # rerunning either scope spends no call


def test_plan_counts_a_scope_as_the_server_does(sandbox: RunningSandbox, pg: str) -> None:
    for scope in ("appellate", "combined"):
        before = ledger_calls(pg, "plan")
        (out,) = run_all(sandbox, pg, "plan", [scope])
        expected = server_count(sandbox, scope)
        assert expected == len(server_ids(sandbox, scope)) > 0
        pages = -(-expected // 20)
        assert re.search(rf": {expected} records (in 1 windows? of 1440h )?-> about {pages} calls",
                         out), out
        assert ledger_calls(pg, "plan") == before + 1  # the count itself: one call
