"""Exports in the exact dialect, hostile values included, load into the same typed rows
the API path stores; errors name the file and line and lose nothing already stored."""

from __future__ import annotations

import bz2
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bulk_support import HOSTILE, hostile_dockets, write_dockets
from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.checkpoint import get_progress
from courtflow.bootstrap.exports import EXPORTS
from courtflow.budget.tables import api_call_ledger
from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import BulkFileError, ConfigError
from courtflow.sandbox.bulk import export_rows, write_export
from courtflow.store import get_watermark, table_checksum
from courtflow.store.convert import convert_record
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table

DOCKETS = RESOURCES["dockets"]
TYPED = ["id", "date_created", "date_modified", *(c.name for c in DOCKETS.columns)]
QUIET = BootstrapOptions(progress=False, run_id="bulk-test")


def _engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def _typed_rows(engine: Engine, names: list[str] = TYPED) -> dict[Any, tuple[Any, ...]]:
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        rows = conn.execute(select(*(table.c[n] for n in names))).all()
    return {row[0]: tuple(row) for row in rows}


def test_hostile_values_load_into_the_rows_the_api_path_makes(db_url: str, tmp_path: Path) -> None:
    records = hostile_dockets(400)
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", records)
    engine = _engine(db_url)
    [result] = bootstrap(engine, [str(path)], QUIET)
    assert (result.rows_read, result.rows_written) == (400, 400)
    stored = _typed_rows(engine)
    loaded = datetime.now(UTC)
    for record in records:
        api_row = convert_record(DOCKETS, record, None, loaded).row
        assert stored[record["id"]] == tuple(api_row[n] for n in TYPED), record["id"]
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        data = dict(conn.execute(select(table.c.id, table.c.data)).all())
    for record in records:
        for name in ("case_name", "docket_number", "nature_of_suit", "court_id", "blocked"):
            assert data[record["id"]][name] == record[name]
    assert {d["docket_number"] for d in data.values()} >= set(HOSTILE) - {""} | {""}


def test_rerun_and_reload_change_nothing(db_url: str, tmp_path: Path) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(200))
    engine = _engine(db_url)
    bootstrap(engine, [str(path)], QUIET)
    with engine.connect() as conn:
        before = table_checksum(conn, DOCKETS)
    [again] = bootstrap(engine, [str(path)], QUIET)
    assert again.skipped
    [forced] = bootstrap(engine, [str(path)], BootstrapOptions(progress=False, force=True))
    assert (forced.rows_read, forced.rows_written) == (200, 0)
    with engine.connect() as conn:
        assert table_checksum(conn, DOCKETS) == before


def test_an_older_export_never_overwrites_newer_rows(db_url: str, tmp_path: Path) -> None:
    new = hostile_dockets(100)
    old = [dict(r, date_modified="2020-01-01T00:00:00-08:00", case_name="stale") for r in new]
    engine = _engine(db_url)
    bootstrap(engine, [str(write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", new))], QUIET)
    with engine.connect() as conn:
        before = table_checksum(conn, DOCKETS)
    older = write_dockets(tmp_path / "dockets-2020-01-02.csv.bz2", old)
    [result] = bootstrap(engine, [str(older)], QUIET)
    assert result.rows_written == 0
    with engine.connect() as conn:
        assert table_checksum(conn, DOCKETS) == before
        # The watermark never moves back either.
        assert get_watermark(conn, "dockets") == datetime(2024, 2, 29, tzinfo=UTC)


def test_no_call_is_spent_or_recorded_in_the_ledger(db_url: str, tmp_path: Path) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(50))
    engine = _engine(db_url)
    bootstrap(engine, [str(path)], QUIET)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(api_call_ledger)).scalar_one() == 0
        progress = get_progress(conn, "dockets", "", path.name)
    assert progress is not None and progress.status == "done" and progress.rows_read == 50


def test_scope_keeps_rows_of_the_court_and_sets_its_own_watermark(db_url: str,
                                                                 tmp_path: Path) -> None:
    records = hostile_dockets(120)
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", records)
    engine = _engine(db_url)
    options = BootstrapOptions(progress=False, filters={"court": "ca9"})
    [result] = bootstrap(engine, [str(path)], options)
    expected = {r["id"] for r in records if r["court_id"] == "ca9"}
    assert set(_typed_rows(engine)) == expected and result.rows_written == len(expected)
    with engine.connect() as conn:
        assert get_watermark(conn, "dockets", "court=ca9") is not None
        assert get_watermark(conn, "dockets") is None


def test_filters_the_file_cannot_evaluate_load_nothing_unless_all(db_url: str,
                                                                  tmp_path: Path) -> None:
    export = EXPORTS["opinion-clusters"]
    records = [{"id": i, "date_modified": "2024-01-01T00:00:00-08:00", "docket_id": i,
                "case_name": f"c{i}"} for i in range(1, 11)]  # fmt: skip
    path = tmp_path / "opinion-clusters-2024-03-01.csv.bz2"
    write_export(path, export, export_rows(export, records))
    engine = _engine(db_url)
    scoped = {"docket__court": "scotus"}
    with pytest.raises(ConfigError, match=r"cannot be evaluated.*--all"):
        bootstrap(engine, [str(path)], BootstrapOptions(progress=False, filters=scoped))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(
            resource_table(RESOURCES["clusters"]))).scalar_one() == 0  # fmt: skip
    [result] = bootstrap(engine, [str(path)], BootstrapOptions(progress=False, filters=scoped,
                                                               load_all=True))  # fmt: skip
    assert result.rows_written == 10


def _lines(records: list[dict[str, Any]]) -> list[str]:
    export = EXPORTS["dockets"]
    from courtflow.sandbox.bulk import line

    return [line(row) for row in export_rows(export, records)]


def _header() -> str:
    return ",".join(f'"{n}"' for n in EXPORTS["dockets"].column_names) + "\n"


def _physical_line(lines: list[str], index: int) -> int:
    """The file line on which record ``index`` starts (header is line 1)."""
    return 2 + sum(text.count("\n") for text in lines[:index])


@pytest.mark.parametrize("damage", ["stray_quote", "bad_value", "latin1", "short_row"])
def test_bad_record_names_file_and_line_and_keeps_what_was_stored(
    db_url: str, tmp_path: Path, damage: str
) -> None:
    engine = _engine(db_url)
    good = hostile_dockets(60)
    first = write_dockets(tmp_path / "dockets-2024-02-01.csv.bz2", good)
    bootstrap(engine, [str(first)], QUIET)
    with engine.connect() as conn:
        before = table_checksum(conn, DOCKETS)
    newer = [dict(r, id=r["id"] + 1000) for r in hostile_dockets(400, seed=9)]
    lines = _lines(newer)
    bad = 350
    text = lines[bad]
    if damage == "stray_quote":
        lines[bad] = text.replace('","', '"x","', 1)
    elif damage == "bad_value":
        lines[bad] = '"not-a-number"' + text[text.index(","):]
    elif damage == "short_row":
        lines[bad] = text[: text.index(",")] + "\n"
    data = (_header() + "".join(lines)).encode("utf-8")
    if damage == "latin1":
        marker = lines[bad][:20].encode()
        at = data.index(marker) + 3
        data = data[:at] + b"\xe9" + data[at:]
    path = tmp_path / "dockets-2024-03-01.csv.bz2"
    path.write_bytes(bz2.compress(data))
    options = BootstrapOptions(progress=False, chunk_bytes=4096)
    with pytest.raises(BulkFileError) as info:
        bootstrap(engine, [str(path)], options)
    assert info.value.file == str(path)
    assert info.value.line == _physical_line(lines, bad), str(info.value)
    with engine.connect() as conn:
        # Chunks before the bad one are committed; what was stored before is intact.
        ids = set(_typed_rows(engine))
        assert {r["id"] for r in good} <= ids
        assert max(ids) < newer[bad]["id"] + 1
        progress = get_progress(conn, "dockets", "", path.name)
    assert progress is not None and progress.status == "failed"
    assert progress.error is not None and f"line {info.value.line}" in progress.error
    assert _typed_rows(engine) != {} and before[0] == len(good)


def test_truncated_download_is_reported_and_the_rerun_resumes(db_url: str,
                                                              tmp_path: Path) -> None:
    records = hostile_dockets(3000)
    full = tmp_path / "full" / "dockets-2024-03-01.csv.bz2"
    full.parent.mkdir()
    write_dockets(full, records, compresslevel=1)
    blob = full.read_bytes()
    cut = tmp_path / "dockets-2024-03-01.csv.bz2"
    cut.write_bytes(blob[: int(len(blob) * 0.6)])
    engine = _engine(db_url)
    options = BootstrapOptions(progress=False, chunk_bytes=16384)
    with pytest.raises(BulkFileError, match="truncated"):
        bootstrap(engine, [str(cut)], options)
    cut.write_bytes(blob)  # the download completed
    [result] = bootstrap(engine, [str(cut)], options)
    assert result.resumed
    reference = _engine(db_url.replace("target.sqlite", "ref.sqlite")) if "sqlite" in db_url \
        else None
    rows = _typed_rows(engine)
    assert set(rows) == {r["id"] for r in records}
    if reference is not None:
        bootstrap(reference, [str(full)], QUIET)
        assert _typed_rows(reference) == rows


def test_an_id_twice_in_a_file_keeps_its_newest_version(db_url: str, tmp_path: Path) -> None:
    records = hostile_dockets(30)
    twice = dict(records[4], date_modified="2030-01-01T00:00:00+00:00", case_name="newest")
    older = dict(records[4], date_modified="2001-01-01T00:00:00+00:00", case_name="oldest")
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", [*records, twice, older])
    engine = _engine(db_url)
    [result] = bootstrap(engine, [str(path)], QUIET)
    assert result.rows_read == 32
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        name = conn.execute(select(table.c.case_name).where(table.c.id == records[4]["id"]))
        assert name.scalar_one() == "newest"
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 30
