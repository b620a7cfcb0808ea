"""Migrations on real PostgreSQL and SQLite: from empty, rerun, concurrent, schema drift."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Constraint, Engine, Index, Table, inspect

from bounds import bound
from courtflow.catalogue.resources import RESOURCES
from courtflow.store.engine import make_engine
from courtflow.store.metadata import metadata
from courtflow.store.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from courtflow.store.state import get_watermark, record_range
from courtflow.store.tables import STORE_TABLES

# Each process gets ready (imports, connection), says so, and waits for the go file,
# so the two upgrades really start together.
_UPGRADE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import current_revision, upgrade
    import alembic.command
    url, ready, go, wait = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    engine = make_engine(url)
    ready.touch()
    deadline = time.monotonic() + float(wait)
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    upgrade(engine)
    print(current_revision(engine))
    """
)


def _diff_table(diff: Any) -> str:
    """The table an Alembic autogenerate diff is about (diffs come in several shapes)."""
    op = diff[0] if isinstance(diff, list) else diff
    subject = op[1]
    if isinstance(subject, Table):
        return str(subject.name)
    if isinstance(subject, (Index, Constraint)) and isinstance(subject.table, Table):
        return str(subject.table.name)
    return str(op[2])  # (kind, schema, table, ...)


def test_empty_database_has_no_revision(empty_db_url: str) -> None:
    assert current_revision(make_engine(empty_db_url)) is None


def test_upgrade_from_empty_creates_every_store_table(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    names = set(inspect(engine).get_table_names())
    assert set(STORE_TABLES) <= names
    assert VERSION_TABLE in names and "alembic_version" not in names


def test_second_upgrade_is_a_no_op_that_keeps_data(store: Engine) -> None:
    mark = datetime(2025, 6, 1, tzinfo=UTC)
    with store.begin() as conn:
        record_range(conn, "dockets", mark - timedelta(days=1), mark, "run-1")
    upgrade(store)
    assert current_revision(store) == head_revision()
    with store.connect() as conn:
        assert get_watermark(conn, "dockets") == mark


def test_migrated_schema_matches_table_definitions(store: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ours = set(STORE_TABLES)
    with store.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        diffs = compare_metadata(context, metadata)

    assert [d for d in diffs if _diff_table(d) in ours] == []


def test_concurrent_upgrades_from_two_processes_both_succeed(
    empty_db_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_SCRIPT, empty_db_url, str(flag), str(go),
             str(bound(60))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + bound(60)
    while not all(f.exists() for f in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=bound(90)) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == head_revision()
    engine = make_engine(empty_db_url)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {spec.table for spec in RESOURCES.values()} <= tables


def test_scopes_migration_keeps_existing_load_state_as_the_whole_resource(
    empty_db_url: str,
) -> None:
    import alembic.command
    from sqlalchemy import text

    from courtflow.store.migrate import alembic_config

    engine = make_engine(empty_db_url)
    mark = datetime(2025, 1, 6, tzinfo=UTC)
    with engine.begin() as conn:
        alembic.command.upgrade(alembic_config(conn), "0002_budget")
        conn.execute(
            text(
                "INSERT INTO sync_watermarks (resource, watermark, updated_at)"
                " VALUES ('dockets', :m, :m)"
            ),
            {"m": mark},
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert get_watermark(conn, "dockets") == mark  # scope "" is the whole resource
        assert get_watermark(conn, "dockets", "court=scotus") is None


def test_0010_seeds_ranges_and_pulls_a_watermark_that_jumped_a_gap_back(
    empty_db_url: str,
) -> None:
    """A database written before 0010_ranges with the old "latest window end" watermark:
    the upgrade seeds the loaded ranges from the finished checkpoints and moves the
    watermark back to the end of the first range; a bootstrapped scope keeps its range
    from the start of time."""
    import alembic.command

    from courtflow.store.migrate import alembic_config
    from courtflow.store.state import LOADED_FROM_START, Range, loaded_ranges
    from courtflow.store.tables import bulk_loads, sync_checkpoints, sync_watermarks

    def day(m: int, d: int) -> datetime:
        return datetime(2024, m, d, tzinfo=UTC)

    engine = make_engine(empty_db_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        alembic.command.upgrade(alembic_config(conn), "0009_bookings")
        old_cp = sync_checkpoints.c
        columns = [c for c in old_cp if c.name not in ("records", "rejected", "new")]
        for start, end, done in ((day(1, 1), day(2, 15), True), (day(3, 1), day(3, 2), True),
                                 (day(3, 5), day(3, 6), True), (day(4, 1), day(4, 2), False)):
            conn.execute(sync_checkpoints.insert().values({
                c.name: v for c, v in zip(columns, (
                    "dockets", "", start, end, None, 1, 5, 1, done, now, "old"), strict=True)
            }))  # fmt: skip
        conn.execute(sync_watermarks.insert(), [
            {"resource": "dockets", "scope": "", "watermark": day(3, 6), "updated_at": now,
             "run_id": "old"},
            {"resource": "people", "scope": "", "watermark": day(5, 1), "updated_at": now,
             "run_id": "boot-1"},
        ])  # fmt: skip
        conn.execute(bulk_loads.insert().values(
            resource="people", scope="", file="people-2024-05-02.csv.bz2", location="x",
            status="done", byte_offset=0, line=0, rows_read=1, rows_written=1,
            started_at=now, updated_at=now, run_id="boot-1"))  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        assert get_watermark(conn, "dockets") == day(2, 15)
        assert loaded_ranges(conn, "dockets") == [
            Range(day(1, 1), day(2, 15)), Range(day(3, 1), day(3, 2)), Range(day(3, 5), day(3, 6))]
        assert get_watermark(conn, "people") == day(5, 1)
        assert loaded_ranges(conn, "people") == [Range(LOADED_FROM_START, day(5, 1))]
