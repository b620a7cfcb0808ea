"""Sandbox mutations: a deleted record leaves listings, counts, detail and the bulk export;
an inserted one joins them; bad requests are refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from courtflow.sandbox.bulk import sandbox_records
from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.mutate import MutationError, mutate
from courtflow.sandbox.pages import count, cursor_page
from courtflow.sandbox.query import parse_list_query

BASE = "http://sandbox.test/api/rest/v4/"


@pytest.fixture
def data() -> Dataset:
    return Dataset(SandboxConfig(seed=3, volumes={"dockets": 60, "docket-entries": 0,
                                                  "recap-documents": 0}))  # fmt: skip


def _walk(data: Dataset, params: tuple[tuple[str, str], ...] = ()) -> list[int]:
    """Every id of a cursor walk by date_modified (as the client pages through)."""
    table = data.table("dockets")
    ids: list[int] = []
    cursor: tuple[tuple[str, str], ...] = ()
    from courtflow.sandbox import cursor as cursors

    while True:
        query = parse_list_query("dockets", (("order_by", "date_modified"), *params, *cursor))
        page = cursor_page(table, query)
        ids += [table.ids[s] for s in page.slots]
        if page.next is None:
            return ids
        cursor = (("cursor", cursors.encode(page.next)),)


def _count(data: Dataset) -> int:
    return count(data.table("dockets"), parse_list_query("dockets", (("count", "on"),)))


def test_deleted_records_leave_every_view(data: Dataset) -> None:
    before = _walk(data)
    total = _count(data)
    assert len(before) == total == len(set(before))
    gone = data.delete("dockets", [1002, 1031, 999_999])
    assert gone == [1002, 1031]  # an unknown id is no deletion
    after = _walk(data)
    assert sorted(after) == sorted(set(before) - {1002, 1031})
    assert _count(data) == total - 2
    assert data.row_by_key("dockets", 1002) is None  # detail: 404
    exported = {r["id"] for r in sandbox_records(data, "dockets", BASE)}
    assert exported == set(after)
    assert data.touch("dockets", [1002]) == 0  # a deleted record cannot be edited


def test_inserted_records_join_listings_counts_and_the_export(data: Dataset) -> None:
    total = _count(data)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    made = data.insert("dockets", 3, when)
    assert len(made) == 3 and len(set(made)) == 3
    assert _count(data) == total + 3
    recent = _walk(data, (("date_modified__gte", "2026-11-30T00:00:00Z"),))
    assert recent == made  # the newest at the end of the date_modified order
    row = data.row_by_key("dockets", made[0])
    assert row is not None and row.version == 0
    assert {r["id"] for r in sandbox_records(data, "dockets", BASE)} >= set(made)


def test_mutate_requests(data: Dataset) -> None:
    done = mutate(data, {"resource": "dockets", "edit": 2, "delete": 1, "insert": 1, "seed": 4})
    assert len(done["edited"]) == 2 and len(done["deleted"]) == 1 and len(done["inserted"]) == 1
    assert not set(done["edited"]) & set(done["deleted"])
    # Reproducible with a seed: the same picks on the same data.
    again = Dataset(SandboxConfig(seed=3, volumes={"dockets": 60, "docket-entries": 0,
                                                   "recap-documents": 0}))  # fmt: skip
    same = mutate(again, {"resource": "dockets", "edit": 2, "delete": 1, "insert": 1, "seed": 4})
    assert same["deleted"] == done["deleted"] and same["edited"] == done["edited"]
    for bad, says in [
        ({"resource": "nope"}, "'resource' must be one of"),
        ({"resource": "dockets", "drop": 1}, "unknown keys"),
        ({"resource": "dockets", "insert": -1}, "'insert'"),
        ({"resource": "dockets", "delete": "x"}, "'delete'"),
        ({"resource": "dockets", "edit": [1.5]}, "ids must be integers"),
    ]:
        with pytest.raises(MutationError, match=says):
            mutate(data, bad)
