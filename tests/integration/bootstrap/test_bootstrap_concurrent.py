"""PostgreSQL merges chunks on two connections at once: checkpoints stay in file order,
an id in two chunks in flight keeps its newest version, a failed chunk is merged again."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

import courtflow.bootstrap.load as load_module
from bulk_support import hostile_dockets, write_dockets
from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.checkpoint import FileProgress, get_progress
from courtflow.bootstrap.load_pg import PgLoader
from courtflow.bootstrap.reader import Chunk
from courtflow.catalogue.resources import RESOURCES
from courtflow.store import table_checksum
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table
from pg_support import scratch_database

DOCKETS = RESOURCES["dockets"]
SMALL = 4096  # a handful of records per chunk: many chunks, several in flight


def _options(connections: int) -> BootstrapOptions:
    return BootstrapOptions(progress=False, chunk_bytes=SMALL, connections=connections)


def _saved_offsets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Byte offsets of the checkpoints, in the order their UPDATEs ran."""
    saved: list[int] = []
    lock = threading.Lock()
    real = load_module.save_progress

    def record(conn: Connection, progress: FileProgress) -> None:
        real(conn, progress)
        with lock:
            saved.append(progress.byte_offset)

    monkeypatch.setattr(load_module, "save_progress", record)
    return saved


def _sequential_checksum(path: Path) -> Any:
    with scratch_database("courtflow_seq") as url:
        engine = make_engine(url)
        upgrade(engine)
        bootstrap(engine, [str(path)], _options(1))
        with engine.connect() as conn:
            return table_checksum(conn, DOCKETS)


def test_checkpoints_commit_in_file_order_and_the_table_is_a_sequential_loads(
    pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(600))
    saved = _saved_offsets(monkeypatch)
    engine = make_engine(pg_db)
    upgrade(engine)
    [result] = bootstrap(engine, [str(path)], _options(2))
    assert (result.rows_read, result.rows_written) == (600, 600)
    assert len(saved) > 10
    # Each checkpoint is written after the one before it committed: never backwards.
    assert saved == sorted(saved)
    with engine.connect() as conn:
        progress = get_progress(conn, "dockets", "", path.name)
        concurrent = table_checksum(conn, DOCKETS)
    assert progress is not None and progress.status == "done"
    assert progress.byte_offset == saved[-1]
    assert concurrent == _sequential_checksum(path)


def test_an_id_in_two_chunks_in_flight_keeps_its_newest_version(
    pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each id twice, the second copy a few records (about a chunk) later: the two
    # versions are often in two chunks merged at once, the newer one first for even ids
    # and last for odd ones. A chunk that waits for a row of the next one gives up fast.
    monkeypatch.setattr(load_module, "CONCURRENT_LOCK_TIMEOUT", "100ms")
    first = hostile_dockets(300)
    second = [dict(r, case_name=f"second {r['id']}",
                   date_modified=("2030-01-01T00:00:00+00:00" if r["id"] % 2 == 0
                                  else "2001-01-01T00:00:00+00:00"))
              for r in first]  # fmt: skip
    gap = 8
    records = []
    for i, record in enumerate(first):
        records.append(record)
        if i >= gap:
            records.append(second[i - gap])
    records.extend(second[len(first) - gap:])
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", records)
    saved = _saved_offsets(monkeypatch)
    engine = make_engine(pg_db)
    upgrade(engine)
    [result] = bootstrap(engine, [str(path)], _options(2))
    assert result.rows_read == 600
    assert saved == sorted(saved)
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        names = dict(conn.execute(select(table.c.id, table.c.case_name)).all())
    assert set(names) == {r["id"] for r in first}
    for record in first:
        newest = f"second {record['id']}" if record["id"] % 2 == 0 else record["case_name"]
        assert names[record["id"]] == newest, record["id"]


def test_a_chunk_that_fails_on_a_worker_is_merged_again_in_order(
    pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(400))
    saved = _saved_offsets(monkeypatch)
    real = PgLoader.load
    calls: list[int] = []
    lock = threading.Lock()

    def flaky(self: PgLoader, conn: Connection, chunk: Chunk) -> tuple[int, int]:
        with lock:
            calls.append(chunk.offset)
            nth = len(calls)
        if nth == 4 and threading.current_thread().name.startswith("courtflow-bulk-merge"):
            raise RuntimeError("connection lost")  # once, on a worker
        return real(self, conn, chunk)

    monkeypatch.setattr(PgLoader, "load", flaky)
    engine = make_engine(pg_db)
    upgrade(engine)
    [result] = bootstrap(engine, [str(path)], _options(2))
    assert result.rows_read == 400
    assert saved == sorted(saved)
    # The failed chunk (and the one behind it, rolled back) ran twice.
    assert len(calls) > len(set(calls))
    with engine.connect() as conn:
        assert table_checksum(conn, DOCKETS) == _sequential_checksum(path)
