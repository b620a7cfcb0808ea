"""A newer full export marks deleted the rows of its scope it no longer holds, on SQLite
and PostgreSQL: only rows last modified before the export's cut-off, only within the
scope, never removed; a first load marks nothing; a load that stopped part-way and
resumed still knows every id the file held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.exports import by_resource
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.errors import BulkFileError
from courtflow.run.sync import open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.bulk import export_rows, sandbox_records, write_export
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import bulk_seen_ids, resource_table

DOCKETS = RESOURCES["dockets"]
CONFIG = SandboxConfig(volumes={"dockets": 150, "docket-entries": 0, "recap-documents": 0})
OPTIONS = BootstrapOptions(progress=False, chunk_bytes=4096)  # many chunks: ids per chunk


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(CONFIG) as sb:
        yield sb


def _export(sandbox: RunningSandbox, folder: Path, day: str, compresslevel: int = 9) -> str:
    export = by_resource("dockets")
    assert export is not None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{export.name}-{day}.csv.bz2"
    records = sandbox_records(sandbox.state.data, "dockets", sandbox.url + "/")
    write_export(path, export, export_rows(export, records), compresslevel=compresslevel)
    return str(path)


def _state(engine: Engine) -> dict[int, datetime | None]:
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        return dict(conn.execute(select(table.c.id, table.c.deleted_at)).all())  # type: ignore[arg-type]


def _engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    upgrade(engine)
    return engine


def test_a_newer_export_marks_absent_rows_deleted(
    sandbox: RunningSandbox, tmp_path: Path, db_url: str
) -> None:
    engine = _engine(db_url)
    first = bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-01")], OPTIONS)
    assert first[0].deleted == 0 and first[0].rows_written > 150
    loaded = _state(engine)
    assert all(v is None for v in loaded.values())
    assert first[0].new == len(loaded)  # into an empty table, every row is new

    # On the server: three dockets deleted; one edited after the next export's date,
    # fetched by the API, then deleted too: the export cannot speak for it.
    sandbox.touch("dockets", [1040], datetime(2024, 3, 25, tzinfo=UTC))
    settings = Settings.from_env({"COURTLISTENER_API_BASE_URL": sandbox.url,
                                  "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
                                  "COURTFLOW_DATABASE_URL": db_url})  # fmt: skip
    with open_pipeline(settings) as p:
        sync_window(p.engine, p.client, DOCKETS, Window(datetime(2024, 3, 24, tzinfo=UTC),
                    datetime(2024, 3, 26, tzinfo=UTC)), run_id="api")  # fmt: skip
    assert sorted(sandbox.delete("dockets", [1001, 1030, 1099, 1040])) == [1001, 1030, 1040, 1099]

    second = bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-20")], OPTIONS)
    assert second[0].deleted == 3 and second[0].new == 0  # nothing inserted: marks only
    after = _state(engine)
    assert set(after) == set(loaded)  # never removed
    assert {k for k, v in after.items() if v is not None} == {1001, 1030, 1099}
    assert after[1040] is None  # modified after the export's cut-off: not its to judge
    with engine.connect() as conn:  # the file's ids are forgotten once compared
        assert conn.execute(select(func.count()).select_from(bulk_seen_ids)).scalar_one() == 0

    # The same file again (--force) finds nothing new; the marks stay.
    again = bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-20")],
                      BootstrapOptions(progress=False, force=True))  # fmt: skip
    assert again[0].deleted == 0
    assert {k for k, v in _state(engine).items() if v is not None} == {1001, 1030, 1099}


def test_a_scoped_export_marks_only_rows_of_its_scope(
    sandbox: RunningSandbox, tmp_path: Path, db_url: str
) -> None:
    engine = _engine(db_url)
    bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-01")], OPTIONS)
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        court = conn.execute(
            select(table.c.court_id).where(table.c.id >= 1000).group_by(table.c.court_id)
            .order_by(func.count().desc()).limit(1)
        ).scalar_one()  # fmt: skip
        inside = list(conn.execute(select(table.c.id).where(
            table.c.court_id == court, table.c.id >= 1000).limit(2)).scalars())  # fmt: skip
        outside = list(conn.execute(select(table.c.id).where(
            table.c.court_id != court, table.c.id >= 1000).limit(2)).scalars())  # fmt: skip
    sandbox.delete("dockets", [*inside, *outside])
    result = bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-20")],
                       BootstrapOptions(progress=False, filters={"court": court}))  # fmt: skip
    assert result[0].deleted == 2
    assert {k for k, v in _state(engine).items() if v is not None} == set(inside)


def test_rows_modified_after_the_cutoff_are_never_marked(
    sandbox: RunningSandbox, tmp_path: Path, db_url: str
) -> None:
    engine = _engine(db_url)
    bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-01")], OPTIONS)
    sandbox.delete("dockets", [1010])
    # An export dated before every row's last change (overlap: a whole year) judges none.
    result = bootstrap(engine, [_export(sandbox, tmp_path, "2024-03-20")],
                       BootstrapOptions(progress=False, overlap=timedelta(days=365 * 30)))
    assert result[0].deleted == 0
    assert all(v is None for v in _state(engine).values())


def test_a_resumed_load_remembers_the_ids_it_read_before_it_stopped(
    tmp_path: Path, db_url: str
) -> None:
    engine = _engine(db_url)
    config = SandboxConfig(volumes={"dockets": 1500, "docket-entries": 0, "recap-documents": 0})
    with start_sandbox(config) as sb:
        bootstrap(engine, [_export(sb, tmp_path / "first", "2024-03-01")], OPTIONS)
        ids = sorted(_state(engine))
        gone = [ids[10], ids[-10]]  # one near the file's start, one near its end
        assert sorted(sb.delete("dockets", gone)) == gone
        # Small bzip2 blocks: a cut file yields its first blocks, then fails.
        full = Path(_export(sb, tmp_path / "full", "2025-12-01", compresslevel=1))
    blob = full.read_bytes()
    cut = tmp_path / full.name
    cut.write_bytes(blob[: int(len(blob) * 0.6)])
    with pytest.raises(BulkFileError, match="truncated"):
        bootstrap(engine, [str(cut)], OPTIONS)
    with engine.connect() as conn:  # the ids of the committed chunks are kept
        kept = conn.execute(select(func.count()).select_from(bulk_seen_ids)).scalar_one()
    assert 0 < kept < len(ids) - 2
    assert all(v is None for v in _state(engine).values())  # nothing judged yet

    cut.write_bytes(blob)  # the download completed
    [result] = bootstrap(engine, [str(cut)], OPTIONS)
    assert result.resumed and result.deleted == 2
    # Only the two the server deleted: ids read before the stop were not forgotten.
    assert {k for k, v in _state(engine).items() if v is not None} == set(gone)
