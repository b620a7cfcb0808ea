"""courtflow audit against the sandbox, on SQLite and PostgreSQL: drift found per window,
repaired (missing rows stored, edited rows refetched, deleted rows marked after a 404),
rows removed only with --purge, audit calls counted by the server like any other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window
from courtflow.cli import main
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.store.engine import make_engine
from courtflow.store.rejects import store_page
from courtflow.store.tables import resource_table
from pg_support import target_database

DOCKETS = RESOURCES["dockets"]
SYNCED = Window(datetime(1990, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
CONFIG = SandboxConfig(volumes={"dockets": 120, "docket-entries": 0, "recap-documents": 0})


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with target_database(request.param, tmp_path, "courtflow_audit") as url:
        yield url


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(CONFIG) as sb:
        yield sb


@pytest.fixture
def env(sandbox: RunningSandbox, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    values = {
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(values)
    with open_pipeline(settings, run_id="load") as p:
        sync_window(p.engine, p.client, DOCKETS, SYNCED, run_id="load")
    return settings


def _rows(engine: Engine) -> dict[int, tuple[datetime, datetime | None]]:
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.date_modified, table.c.deleted_at))
        return {r.id: (r.date_modified, r.deleted_at) for r in rows}


def _audit(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str], dict[str, object]]:
    code = main(["audit", "--resource", "dockets", *args])
    out, err = capsys.readouterr()
    (result,) = out.strip().splitlines()  # stdout: the JSON result alone
    return code, err.strip().splitlines(), json.loads(result)


def test_audit_finds_drift_and_repair_marks_only_what_the_server_deleted(
    sandbox: RunningSandbox, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(env.database_url)
    before = _rows(engine)
    assert len(before) == sandbox.state.data.table("dockets").n_fixture + 120
    deleted = sandbox.delete("dockets", [1003, 1050, 1077])
    assert sorted(deleted) == [1003, 1050, 1077]
    sandbox.touch("dockets", [1010, 1020])  # edited now: leaves its old window on the server
    admitted = sandbox.stats()["admitted"]

    code, lines, summary = _audit(capsys)
    assert code == 1  # drift left unrepaired is a failure a scheduler sees
    # The cost comes first, before any count: the plan's words (after the start line).
    assert lines[0] == "audit dockets: started"
    assert lines[1].startswith("audit dockets [")
    assert "calls (one count=on call a window)" in lines[1]
    assert "budget:" in "\n".join(lines[2:4])
    windows = int(summary["windows"])  # type: ignore[call-overload]
    assert sandbox.stats()["admitted"] - admitted == windows == summary["count_calls"]
    assert summary["drifted"] and not summary["repaired"]
    assert any("server" in line and "stored" in line for line in lines)
    assert _rows(engine) == before  # an audit alone changes nothing

    code, lines, summary = _audit(capsys, "--repair")
    assert code == 0
    after = _rows(engine)
    assert len(after) == len(before)  # nothing removed
    assert {k for k, (_, gone) in after.items() if gone is not None} == {1003, 1050, 1077}
    assert after[1010][0] > before[1010][0] and after[1010][1] is None  # refetched, live
    assert after[1020][0] > before[1020][0]
    repaired = summary["repaired"]
    assert isinstance(repaired, list)
    assert sum(r["deleted"] for r in repaired) == 3 and sum(r["moved"] for r in repaired) == 2

    code, _, summary = _audit(capsys)
    assert code == 0 and summary["drifted"] == 0

    code, _, summary = _audit(capsys, "--purge")
    assert code == 0 and summary["purged"] == 3
    assert set(_rows(engine)) == set(before) - {1003, 1050, 1077}


def test_a_row_served_again_is_live_again(sandbox: RunningSandbox, env: Settings) -> None:
    engine = make_engine(env.database_url)
    table = resource_table(DOCKETS)
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == 1005)
                     .values(deleted_at=datetime(2026, 1, 1, tzinfo=UTC)))  # fmt: skip
    with open_pipeline(env) as p:
        record = p.client.get("dockets/1005/")
    with engine.begin() as conn:
        stored = store_page(conn, DOCKETS, [record], "again")
    assert stored.written == 1  # unchanged content, yet written: the mark is cleared
    assert _rows(engine)[1005][1] is None


def test_audit_of_a_scope_counts_only_its_rows(
    sandbox: RunningSandbox, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(env.database_url)
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        court, n = conn.execute(
            select(table.c.court_id, func.count()).group_by(table.c.court_id)
            .order_by(func.count().desc()).limit(1)
        ).one()  # fmt: skip
    with open_pipeline(env) as p:
        sync_window(p.engine, p.client, DOCKETS, SYNCED, run_id="scoped",
                    scope=Scope.of(DOCKETS, {"court": court}))  # fmt: skip
    code, lines, summary = _audit(capsys, "--filter", f"court={court}")
    assert code == 0 and summary["drifted"] == 0
    assert f"stored live rows {n})" in "\n".join(lines)


def test_audit_refuses_a_scope_it_cannot_read_in_the_table(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "--resource", "dockets", "--until", "2024-06-01",
                 "--filter", "court__date_modified__gte=2020-01-01"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "court__date_modified__gte" in err and "cannot be evaluated on the stored" in err


def test_audit_waits_for_the_budget_visibly_and_max_wait_exits_75(
    env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # One count a window; three calls fit in a minute, so the audit must wait or give up.
    monkeypatch.setenv("COURTFLOW_RATES", "3/min")
    code = main(["audit", "--resource", "dockets", "--since", "2024-01-01", "--until",
                 "2024-03-01", "--step", "day", "--max-wait", "1s"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 75, err
    assert out == ""  # no result: the audit did not finish
    assert "longer than --max-wait 1s" in err and "Rerun after" in err
    # Without --max-wait it waits, one line per wait when redirected (here: captured):
    # two day windows at one call in 6 s, so the second count waits whatever the speed.
    monkeypatch.setenv("COURTFLOW_RATES", "1/6s")
    code, lines, summary = _audit(capsys, "--since", "2024-01-01", "--until", "2024-01-03",
                                  "--step", "day")  # fmt: skip
    assert code in (0, 1) and summary["count_calls"] == 2
    assert any("waiting for the budget" in line for line in lines), lines
