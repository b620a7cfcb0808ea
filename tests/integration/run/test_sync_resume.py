"""Crash and concurrency safety of a window sync: SIGKILL at random pages, edits mid-sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bounds import bound
from courtflow.budget.tables import api_call_ledger
from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.store import Checkpoint, table_checksum
from courtflow.store.engine import make_engine

SINCE, UNTIL = "2024-01-01T00:00:00Z", "2024-01-11T00:00:00Z"
SPEC = get_resource("dockets")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    # Slow pages a little so a kill lands between pages, not after the last one.
    with start_sandbox(SandboxConfig(latency_ms=40)) as sb:
        yield sb


def cli(url: str, db: str, run_id: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "COURTLISTENER_API_BASE_URL": url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "courtflow.cli",
            "sync",
            "--resource",
            "dockets",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--run-id",
            run_id,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pages_committed(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            try:
                return int(
                    conn.execute(
                        text("SELECT coalesce(max(pages), 0) FROM sync_checkpoints")
                    ).scalar_one()
                )
            except Exception:
                return 0
    finally:
        engine.dispose()


def calls_of(db: str, run_id: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(api_call_ledger.c.run_id == run_id)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def checksum(db: str) -> tuple[int, str]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return table_checksum(conn, SPEC)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def reference(
    sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, str, int]:
    db = f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.sqlite'}"
    proc = cli(sandbox.url, db, "reference")
    _, err = proc.communicate(timeout=bound(120))
    assert proc.returncode == 0, err
    rows, digest = checksum(db)
    return rows, digest, pages_committed(db)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_page_then_rerun_matches_an_uninterrupted_run(
    seed: int, sandbox: RunningSandbox, reference: tuple[int, str, int], tmp_path: Path
) -> None:
    ref_rows, ref_digest, total_pages = reference
    assert total_pages > 5
    kill_after = random.Random(seed).randint(1, total_pages - 2)
    db = f"sqlite:///{tmp_path / 'killed.sqlite'}"

    proc = cli(sandbox.url, db, f"killed-{seed}")
    deadline = time.monotonic() + bound(90)
    while pages_committed(db) < kill_after and proc.poll() is None:
        assert time.monotonic() < deadline, "the sync made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=bound(10))
    committed = pages_committed(db)
    assert 0 < committed < total_pages, "the kill must land mid-window"

    rerun = cli(sandbox.url, db, f"rerun-{seed}")
    _, err = rerun.communicate(timeout=bound(120))
    assert rerun.returncode == 0, err

    assert checksum(db) == (ref_rows, ref_digest)
    remaining = total_pages - committed
    assert calls_of(db, f"rerun-{seed}") <= remaining + 1


def test_records_edited_during_a_sync_are_not_lost(sandbox: RunningSandbox, pg_url: str) -> None:
    """The sandbox moves records' date_modified forward between pages (edits by others)."""
    settings = Settings.from_env(
        {
            "COURTLISTENER_API_BASE_URL": sandbox.url,
            "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
            "COURTFLOW_DATABASE_URL": pg_url,
        }
    )
    start = datetime(2024, 1, 20, tzinfo=UTC)
    first = Window(start, start + timedelta(days=3))
    second = Window(first.end, first.end + timedelta(days=3))
    touched: dict[int, datetime] = {}

    def edit_between_pages(_spec: object, cp: Checkpoint, _stored: object) -> None:
        engine = make_engine(pg_url)
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM cl_dockets ORDER BY id"))]
        if cp.pages in (2, 4) and ids:
            # One record already stored moves later inside this window, one past its end.
            inside, beyond = ids[cp.pages], ids[cp.pages + 1]
            touched[inside] = first.end - timedelta(minutes=5)
            touched[beyond] = second.start + timedelta(hours=1)
            sandbox.touch("dockets", [inside], when=touched[inside])
            sandbox.touch("dockets", [beyond], when=touched[beyond])

    with open_pipeline(settings, run_id="edits") as p:
        p.sync(SPEC, first, run_id="edits", on_page=edit_between_pages)
        p.sync(SPEC, second, run_id="edits")
        stored, data = {}, {}
        with p.engine.connect() as conn:
            for rid in touched:
                stored[rid], data[rid] = conn.execute(
                    text("SELECT date_modified, data FROM cl_dockets WHERE id = :i"), {"i": rid}
                ).one()
        server = {rid: p.client.get(f"dockets/{rid}/") for rid in touched}
    assert len(touched) == 4
    for rid, when in touched.items():
        assert stored[rid] == when, f"docket {rid}: the edit made during the sync was lost"
        # The stored record is the server's current version, edited text included.
        assert data[rid] == server[rid]
