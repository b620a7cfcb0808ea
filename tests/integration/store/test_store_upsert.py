"""Batched upserts on real PostgreSQL and SQLite: idempotent, order-independent, never older."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import BadPayloadError
from courtflow.store.convert import to_rows
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table
from courtflow.store.upsert import count_rows, table_checksum, upsert_rows

DOCKETS = RESOURCES["dockets"]
T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8000/api/rest/v4"


def pacific(moment: datetime) -> str:
    """How the API writes a timestamp: America/Los_Angeles, winter offset."""
    return (moment - timedelta(hours=8)).replace(tzinfo=None).isoformat() + "-08:00"


def docket(key: int, minute: int, name: str | None = None) -> dict[str, Any]:
    modified = T0 + timedelta(minutes=minute)
    return {
        "resource_uri": f"{BASE}/dockets/{key}/",
        "id": key,
        "court": f"{BASE}/courts/ca9/",
        "court_id": "ca9",
        "date_created": pacific(T0),
        "date_modified": pacific(modified),
        "case_name": name if name is not None else f"case {key} at {minute}",
        "docket_number": f"25-{key:05d}",
        "date_filed": "2024-12-30",
        "source": 1,
    }


def pages(records: Sequence[dict[str, Any]], size: int = 20) -> list[list[dict[str, Any]]]:
    return [list(records[i:i + size]) for i in range(0, len(records), size)]


def load(engine: Engine, batches: Sequence[Sequence[dict[str, Any]]], run_id: str) -> int:
    written = 0
    for batch in batches:
        with engine.begin() as conn:
            written += upsert_rows(conn, DOCKETS, batch, run_id)
    return written


def snapshot(engine: Engine) -> dict[int, tuple[datetime, str, str]]:
    table = resource_table(DOCKETS)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id, table.c.date_modified, table.c.case_name, table.c.content_hash)
        )
        return {r.id: (r.date_modified, r.case_name, r.content_hash) for r in rows}


def checksum(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        return table_checksum(conn, DOCKETS)


def test_new_rows_are_inserted_with_typed_columns(store: Engine) -> None:
    assert load(store, [[docket(1, 0), docket(2, 1)]], "run-1") == 2
    table = resource_table(DOCKETS)
    with store.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == 1)).one()
    assert row.date_modified == T0 and row.date_modified.tzinfo == UTC
    assert row.court_id == "ca9" and row.source == 1 and row.run_id == "run-1"
    assert row.data["resource_uri"].endswith("/dockets/1/")


def test_rerunning_the_same_pages_leaves_table_identical(store: Engine) -> None:
    batches = pages([docket(k, k % 7) for k in range(1, 61)])
    load(store, batches, "run-1")
    before, rows_before = checksum(store), snapshot(store)
    table = resource_table(DOCKETS)
    with store.connect() as conn:
        loaded_before = dict(conn.execute(select(table.c.id, table.c.loaded_at)).all())
    assert load(store, batches, "run-2") == 0
    assert checksum(store) == before and snapshot(store) == rows_before
    with store.connect() as conn:
        assert dict(conn.execute(select(table.c.id, table.c.loaded_at)).all()) == loaded_before
        assert set(conn.execute(select(table.c.run_id)).scalars()) == {"run-1"}


def test_older_date_modified_never_overwrites_newer(store: Engine) -> None:
    load(store, [[docket(5, 30, "new")]], "run-new")
    assert load(store, [[docket(5, 10, "old")]], "run-old") == 0
    assert snapshot(store)[5][1] == "new"


def test_newer_date_modified_replaces_the_row(store: Engine) -> None:
    load(store, [[docket(5, 10, "old")]], "run-old")
    assert load(store, [[docket(5, 30, "new")]], "run-new") == 1
    assert snapshot(store)[5][:2] == (T0 + timedelta(minutes=30), "new")


def test_batch_with_duplicate_ids_keeps_the_newest(store: Engine) -> None:
    page = [docket(9, 1, "a"), docket(9, 3, "c"), docket(8, 0), docket(9, 2, "b")]
    assert load(store, [page], "run-1") == 2
    assert snapshot(store)[9][1] == "c"


def _versions() -> list[dict[str, Any]]:
    """Up to three versions per id, including two contents with the same date_modified."""
    rng = random.Random(7)
    records = []
    for key in range(1, 41):
        count = rng.randint(1, 3)
        for version in range(count):
            records.append(docket(key, version * 10, f"case {key} v{version}"))
        if key % 4 == 0:  # same date_modified as the newest version, other content
            records.append(docket(key, (count - 1) * 10, f"case {key} tie"))
    return records


def test_final_table_is_the_same_whatever_the_order_of_pages(store: Engine) -> None:
    versions = _versions()
    table = resource_table(DOCKETS)
    results = set()
    for seed in range(4):
        shuffled = versions[:]
        random.Random(seed).shuffle(shuffled)
        with store.begin() as conn:
            conn.execute(delete(table))
        batches = pages(shuffled, size=7)
        random.Random(seed + 100).shuffle(batches)
        load(store, batches, f"run-{seed}")
        load(store, batches[: len(batches) // 2], f"rerun-{seed}")  # partial rerun
        results.add((checksum(store), tuple(sorted(snapshot(store).items()))))
    assert len(results) == 1
    (count, _), rows = next(iter(results))
    expected = {row["id"]: row["content_hash"] for row in to_rows(DOCKETS, versions, None, T0)}
    assert count == 40
    assert {key: value[2] for key, value in rows} == expected


def test_bad_record_fails_the_page_before_anything_is_written(store: Engine) -> None:
    bad = docket(3, 0)
    bad["date_modified"] = "not a date"
    with pytest.raises(BadPayloadError, match=r"dockets record id=3: field 'date_modified'"), \
            store.begin() as conn:
        upsert_rows(conn, DOCKETS, [docket(1, 0), docket(2, 0), bad], "run-1")
    with store.connect() as conn:
        assert count_rows(conn, DOCKETS) == 0


def test_page_larger_than_one_statement_is_split_and_complete(store: Engine) -> None:
    records = [docket(k, k % 11) for k in range(1, 3001)]
    with store.begin() as conn:
        assert upsert_rows(conn, DOCKETS, records, "bulk") == 3000
    with store.connect() as conn:
        assert count_rows(conn, DOCKETS) == 3000


def test_copy_merge_path_matches_values_path(fresh_pg_url: str) -> None:
    engine = make_engine(fresh_pg_url)
    upgrade(engine)
    versions = _versions()
    with engine.begin() as conn:
        upsert_rows(conn, DOCKETS, versions, "values", method="statement")
    expected = checksum(engine)
    with engine.begin() as conn:
        conn.execute(delete(resource_table(DOCKETS)))
    shuffled = versions[:]
    random.Random(3).shuffle(shuffled)
    with engine.begin() as conn:  # several COPY batches in one transaction
        for batch in pages(shuffled, size=9):
            upsert_rows(conn, DOCKETS, batch, "copy", method="copy")
    assert checksum(engine) == expected
    with engine.begin() as conn:
        assert upsert_rows(conn, DOCKETS, versions, "copy-again", method="copy") == 0


def test_checksum_is_the_same_on_sqlite_and_postgresql(fresh_pg_url: str, sqlite_url: str) -> None:
    sums = []
    for url in (fresh_pg_url, sqlite_url):
        engine = make_engine(url)
        upgrade(engine)
        load(engine, pages(_versions()), "run-1")
        sums.append(checksum(engine))
    assert sums[0] == sums[1] and sums[0][0] == 40


def test_text_keyed_courts_store_typed_columns(store: Engine) -> None:
    courts = RESOURCES["courts"]
    record = {"id": "scotus", "date_modified": "2024-07-01T09:00:00-07:00", "in_use": True,
              "start_date": "1789-09-24", "full_name": "Supreme Court of the United States",
              "jurisdiction": "F", "resource_uri": f"{BASE}/courts/scotus/"}
    with store.begin() as conn:
        assert upsert_rows(conn, courts, [record, {**record, "id": "ca9"}], "run-1") == 2
        assert upsert_rows(conn, courts, [], "run-1") == 0
    table = resource_table(courts)
    with store.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == "scotus")).one()
    assert row.in_use is True and row.start_date.isoformat() == "1789-09-24"
    assert row.date_modified == datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert row.data == record
