"""The poison-record rule: what is stored (and how), what is set aside, and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import BadPayloadError
from courtflow.store.convert import MAX_DEPTH, content_hash, convert_record, partition_page

DOCKETS = RESOURCES["dockets"]
COURTS = RESOURCES["courts"]
LOADED = datetime(2026, 1, 1, tzinfo=UTC)


def docket(key: int = 12, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": key,
        "date_modified": "2025-01-01T16:00:00-08:00",
        "case_name": "Roe v. Doe",
        "date_filed": "2024-12-30",
        "source": 1,
    }
    record.update(fields)
    return record


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


def test_nul_is_dropped_from_typed_text_and_escaped_in_the_json_record() -> None:
    record = docket(case_name="Roe\x00 v. Doe", extra={"k\x00": ["a\x00b"]})
    (item,), rejected = partition_page(DOCKETS, [record], None, LOADED)
    assert not rejected
    assert item.row["case_name"] == "Roe v. Doe"
    assert item.row["data"]["case_name"] == "Roe\\u0000 v. Doe"
    assert item.row["data"]["extra"] == {"k\\u0000": ["a\\u0000b"]}
    assert "\\u0000" not in item.data_json.replace("\\\\u0000", "")  # jsonb-safe text
    assert json.loads(item.data_json) == item.row["data"]
    # The hash is the server's content: the record as sent.
    assert item.row["content_hash"] == content_hash(record)


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", 2**64), ("source", -(2**63) - 1), ("source", "123456789012345678901234"),
     ("date_filed", "2024-02-30"), ("date_filed", "0000-01-01"), ("source", 1.5)],
)  # fmt: skip
def test_a_typed_value_that_does_not_fit_is_null_when_lenient_and_kept_in_json(
    field: str, value: Any
) -> None:
    (item,), rejected = partition_page(DOCKETS, [docket(**{field: value})], None, LOADED)
    assert not rejected and item.row[field] is None and item.row["data"][field] == value
    with pytest.raises(BadPayloadError, match=field):
        convert_record(DOCKETS, docket(**{field: value}), None, LOADED)


def test_the_64_bit_bounds_themselves_fit() -> None:
    item = convert_record(DOCKETS, docket(source=2**63 - 1), None, LOADED)
    assert item.row["source"] == 2**63 - 1


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"date_modified": "2025-01-01T00:00:00Z"}, "without field 'id'"),
        (docket(date_modified="yesterday"), "date_modified"),
        (docket(date_modified="0001-01-01T00:00:00+01:00"), "date_modified"),
        (docket(date_modified="9999-12-31T23:00:00-08:00"), "date_modified"),
        (docket(date_modified=None), "date_modified' is missing"),
        (docket(case_name="half \ud800 pair"), "unpaired surrogate"),
        (docket(extra=nested(MAX_DEPTH + 5)), "nests deeper"),
        (docket(key=2**70), "field 'id'"),
    ],
)
def test_records_whose_key_or_order_cannot_be_stored_are_rejected_with_a_reason(
    record: dict[str, Any], reason: str
) -> None:
    good = docket(key=1)
    items, rejected = partition_page(DOCKETS, [good, record], None, LOADED)
    assert [i.row["id"] for i in items] == [1]
    (r,) = rejected
    assert reason in r.reason
    assert r.raw.isascii() and "\x00" not in r.raw
    json.loads(r.raw)


def test_a_text_key_with_nul_is_rejected() -> None:
    court = {"id": "sco\x00tus", "date_modified": "2025-01-01T00:00:00Z"}
    items, (r,) = partition_page(COURTS, [court], None, LOADED)
    assert not items and r.key == "scotus" and "'id'" in r.reason


def test_moderate_nesting_is_stored() -> None:
    (item,), rejected = partition_page(DOCKETS, [docket(extra=nested(MAX_DEPTH - 2))], None,
                                       LOADED)  # fmt: skip
    assert not rejected and item.row["data"]["extra"]["x"]["x"]
