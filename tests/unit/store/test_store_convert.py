"""Records to rows: time zones, link ids, missing fields and refused records."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime

import pytest

from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import BadPayloadError
from courtflow.store.convert import (
    content_hash,
    convert_record,
    dedupe_newest,
    link_id,
    parse_timestamp,
    to_row,
    to_rows,
)
from courtflow.store.upsert import row_json

DOCKETS = RESOURCES["dockets"]
ENTRIES = RESOURCES["docket-entries"]
LOADED = datetime(2026, 1, 1, tzinfo=UTC)
BASE = "https://www.courtlistener.com/api/rest/v4"


def docket(**fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "resource_uri": f"{BASE}/dockets/12/",
        "id": 12,
        "court": f"{BASE}/courts/scotus/",
        "court_id": "scotus",
        "date_created": "2025-01-01T08:00:00-08:00",
        "date_modified": "2025-01-01T16:00:00-08:00",
        "docket_number": "24-123",
        "case_name": "Roe v. Doe",
        "date_filed": "2024-12-30",
        "date_terminated": None,
        "source": 1,
        "pacer_case_id": "666666",
    }
    record.update(fields)
    return record


def test_winter_pacific_offset_is_stored_as_utc() -> None:
    row = to_row(DOCKETS, docket(), "run-1", LOADED)
    assert row["date_modified"] == datetime(2025, 1, 2, 0, 0, tzinfo=UTC)
    assert row["date_created"] == datetime(2025, 1, 1, 16, 0, tzinfo=UTC)


def test_summer_pacific_offset_is_stored_as_utc() -> None:
    row = to_row(DOCKETS, docket(date_modified="2025-07-01T10:00:00.250000-07:00"), None, LOADED)
    assert row["date_modified"] == datetime(2025, 7, 1, 17, 0, 0, 250000, tzinfo=UTC)


def test_same_instant_in_two_offsets_parses_equal() -> None:
    assert parse_timestamp("2025-03-09T01:30:00-08:00") == parse_timestamp(
        "2025-03-09T09:30:00Z"
    )


def test_naive_date_modified_is_refused_naming_the_field() -> None:
    with pytest.raises(BadPayloadError, match=r"dockets record id=12: field 'date_modified'"):
        to_row(DOCKETS, docket(date_modified="2025-01-01T16:00:00"), None, LOADED)


def test_unparsable_date_modified_names_resource_id_and_field() -> None:
    with pytest.raises(BadPayloadError) as info:
        to_row(DOCKETS, docket(id=77, date_modified="yesterday"), None, LOADED)
    message = str(info.value)
    assert "dockets" in message and "id=77" in message and "'date_modified'" in message
    assert "yesterday" in message


def test_missing_date_modified_is_refused() -> None:
    record = docket()
    del record["date_modified"]
    with pytest.raises(BadPayloadError, match="'date_modified' is missing"):
        to_row(DOCKETS, record, None, LOADED)


def test_record_without_id_is_refused() -> None:
    record = docket()
    del record["id"]
    with pytest.raises(BadPayloadError, match=r"dockets record without field 'id'"):
        to_row(DOCKETS, record, None, LOADED)


def test_non_integer_id_is_refused_for_integer_keyed_resource() -> None:
    with pytest.raises(BadPayloadError, match="field 'id'"):
        to_row(DOCKETS, docket(id="twelve"), None, LOADED)


def test_court_ids_are_text() -> None:
    court = {"id": "scotus", "date_modified": "2025-01-01T00:00:00-08:00", "in_use": True,
             "start_date": "1789-09-24", "full_name": "Supreme Court of the United States"}
    row = to_row(RESOURCES["courts"], court, None, LOADED)
    assert row["id"] == "scotus"
    assert row["in_use"] is True
    assert row["start_date"] == date(1789, 9, 24)
    assert row["short_name"] is None


def test_link_field_keeps_the_trailing_id() -> None:
    entry = {"id": 5, "docket": f"{BASE}/dockets/12/", "entry_number": 3,
             "date_modified": "2025-01-01T00:00:00-08:00", "date_filed": "2024-02-29"}
    row = to_row(ENTRIES, entry, None, LOADED)
    assert row["docket_id"] == 12
    assert row["date_filed"] == date(2024, 2, 29)


def test_relative_and_http_links_both_give_ids() -> None:
    assert link_id("/api/rest/v4/recap-documents/99/") == "99"
    assert link_id("http://localhost:8000/api/rest/v4/courts/ca9/") == "ca9"
    assert link_id("https://www.supremecourt.gov/opinions/24pdf/23-123.pdf") is None


def test_plain_url_in_text_column_is_kept_whole() -> None:
    url = "https://www.supremecourt.gov/opinions/24pdf/23-123.pdf"
    opinion = {"id": 1, "date_modified": "2025-01-01T00:00:00-08:00", "download_url": url,
               "cluster_id": 4, "per_curiam": False}
    row = to_row(RESOURCES["opinions"], opinion, None, LOADED)
    assert row["download_url"] == url
    assert row["cluster_id"] == 4
    assert row["per_curiam"] is False


def test_missing_typed_fields_become_null() -> None:
    row = to_row(DOCKETS, {"id": 3, "date_modified": "2025-01-01T00:00:00Z"}, None, LOADED)
    assert row["court_id"] is None and row["date_filed"] is None and row["source"] is None
    assert row["date_created"] is None


def test_value_of_wrong_type_names_the_field() -> None:
    with pytest.raises(BadPayloadError, match=r"id=12: field 'source' does not fit int"):
        to_row(DOCKETS, docket(source=True), None, LOADED)
    with pytest.raises(BadPayloadError, match=r"field 'date_filed' does not fit date"):
        to_row(DOCKETS, docket(date_filed="30/12/2024"), None, LOADED)


def test_whole_record_goes_to_data_with_metadata() -> None:
    record = docket(extra={"nested": [1, 2]})
    row = to_row(DOCKETS, record, "run-7", LOADED)
    assert row["data"] == record
    assert row["run_id"] == "run-7" and row["loaded_at"] == LOADED
    assert row["content_hash"] == content_hash(record)


def test_content_hash_ignores_key_order_but_not_values() -> None:
    record = docket()
    reordered = dict(reversed(list(record.items())))
    assert content_hash(record) == content_hash(reordered)
    assert content_hash(record) != content_hash(docket(case_name="Roe v. Wade"))


def test_duplicates_in_a_page_keep_the_newest_version() -> None:
    old = docket(case_name="old", date_modified="2025-01-01T00:00:00-08:00")
    new = docket(case_name="new", date_modified="2025-01-01T00:00:01-08:00")
    rows = to_rows(DOCKETS, [new, old, docket(id=13)], None, LOADED)
    assert len(rows) == 2
    assert next(r for r in rows if r["id"] == 12)["data"]["case_name"] == "new"


def test_same_date_modified_different_content_dedupes_independent_of_order() -> None:
    versions = [docket(case_name=f"v{i}") for i in range(5)]
    winners = set()
    for seed in range(6):
        shuffled = versions[:]
        random.Random(seed).shuffle(shuffled)
        winners.add(dedupe_newest(to_rows(DOCKETS, shuffled, None, LOADED))[0]["content_hash"])
    assert len(winners) == 1


def test_converted_keeps_the_hashed_canonical_text() -> None:
    record = docket()
    item = convert_record(DOCKETS, record, None, LOADED)
    assert json.loads(item.data_json) == record
    assert item.row["content_hash"] == hashlib.sha256(item.data_json.encode()).hexdigest()


def test_row_json_is_the_row_with_iso_times_and_the_record() -> None:
    record = docket(case_name='Quote " and \\ backslash, ünïcode')
    item = convert_record(DOCKETS, record, "run-1", LOADED)
    decoded = json.loads(row_json(item))
    assert decoded["data"] == record
    assert decoded["date_modified"] == "2025-01-02T00:00:00+00:00"
    assert decoded["date_filed"] == "2024-12-30"
    assert decoded["case_name"] == record["case_name"]
    assert set(decoded) == set(item.row)
