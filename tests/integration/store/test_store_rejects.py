"""store_page on PostgreSQL and SQLite: poison set aside, the rest stored, once per record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from courtflow.catalogue.resources import RESOURCES
from courtflow.store import count_rejects, list_rejects, store_page
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table
from pg_support import scratch_database

DOCKETS = RESOURCES["dockets"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'rejects.sqlite'}")
        upgrade(engine)
        yield engine
        return
    with scratch_database("courtflow_rejects") as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine


def docket(key: int, **fields: Any) -> dict[str, Any]:
    return {"id": key, "date_modified": "2025-01-01T00:00:00Z", "case_name": f"case {key}",
            "source": 1, **fields}  # fmt: skip


def ids(engine: Engine) -> list[int]:
    t = resource_table(DOCKETS)
    with engine.connect() as conn:
        return sorted(conn.execute(select(t.c.id)).scalars())


def test_poison_is_set_aside_once_and_the_rest_of_the_page_is_stored(store: Engine) -> None:
    page = [docket(1, case_name="nul\x00here"), docket(2, date_modified="soon"),
            docket(3, source=2**80), docket(4)]  # fmt: skip
    for run in ("a", "b"):  # the same page twice: no duplicate row, no duplicate reject
        with store.begin() as conn:
            stored = store_page(conn, DOCKETS, page, run, scope="court=x", page_url="http://p/1")
        assert stored.rejected == 1
    assert ids(store) == [1, 3, 4]
    with store.connect() as conn:
        assert count_rejects(conn) == 1
        assert count_rejects(conn, "dockets", "court=x") == 1
        assert count_rejects(conn, "dockets", "") == 0
        assert count_rejects(conn, run_ids=["b"]) == 1 and count_rejects(conn, run_ids=["a"]) == 0
        (r,) = list_rejects(conn, "dockets")
    assert (r.record_key, r.page_url, r.run_id, r.scope) == ("2", "http://p/1", "b", "court=x")


def test_a_value_the_database_itself_refuses_is_rejected_row_by_row(store: Engine) -> None:
    # JSON has no Infinity: PostgreSQL's jsonb refuses the record, SQLite's JSON text keeps it.
    page = [docket(1), docket(2, score=float("inf")), docket(3)]
    with store.begin() as conn:
        stored = store_page(conn, DOCKETS, page, "r")
    if store.dialect.name == "postgresql":
        assert stored.rejected == 1 and ids(store) == [1, 3]
        with store.connect() as conn:
            (r,) = list_rejects(conn)
        assert r.record_key == "2" and "refused by the database" in r.reason
    else:
        assert stored.rejected == 0 and ids(store) == [1, 2, 3]
