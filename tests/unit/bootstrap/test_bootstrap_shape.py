"""The row shape of every export against the fields the production API serves.

``api_fields_2026-08-11.json`` is the field list of each endpoint's ``OPTIONS`` answer
(``actions.POST``) from ``production-options-2026-08-11.json`` (FLP's SDK cache of the
production server), cut down to the names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from courtflow.bootstrap.exports import EXPORTS, loadable
from courtflow.bootstrap.rows import json_value
from courtflow.bootstrap.shape import Shaper, api_timestamp, check_shapes, shape_of
from courtflow.catalogue.resources import RESOURCES

API_FIELDS: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "api_fields_2026-08-11.json").read_text()
)
BASE = "https://www.courtlistener.com/api/rest/v4"


def test_every_foreign_key_column_is_declared() -> None:
    check_shapes()


@pytest.mark.parametrize("name", sorted(loadable()))
def test_bulk_record_keys_are_the_api_fields_less_what_the_export_lacks(name: str) -> None:
    export = EXPORTS[name]
    spec = RESOURCES[export.resource]
    shaper = Shaper(export, spec.name, BASE, frozenset(spec.default_omit),
                    no_id=spec.identity == "resource_uri")  # fmt: skip
    keys = set(shaper.record(dict.fromkeys(export.column_names)))
    shape = shape_of(export)
    served = set(API_FIELDS[export.resource]) - set(spec.default_omit)
    assert set(shape.lacks) <= set(API_FIELDS[export.resource]), "lacks a field not served"
    assert keys == served - set(shape.lacks)


def test_a_docket_row_becomes_the_api_record() -> None:
    export = EXPORTS["dockets"]
    shaper = Shaper(export, "dockets", BASE + "/", frozenset())
    values = dict.fromkeys(export.column_names, "")
    values.update(id=7, court_id="scotus", assigned_to_id=None, idb_data_id=12,
                  originating_court_information_id=3, slug="a-v-b", view_count=9)
    record = shaper.record(values)
    assert record["resource_uri"] == f"{BASE}/dockets/7/"
    assert record["court"] == f"{BASE}/courts/scotus/" and record["court_id"] == "scotus"
    assert record["assigned_to"] is None and "assigned_to_id" not in record
    assert record["idb_data"] == {"resource_uri": f"{BASE}/fjc-integrated-database/12/"}
    assert record["original_court_info"] == {
        "id": 3, "resource_uri": f"{BASE}/originating-court-information/3/"}
    assert record["absolute_url"] == "/docket/7/a-v-b/"
    assert "view_count" not in record and "filepath_local" not in record


def test_empty_file_fields_are_null() -> None:
    export = EXPORTS["opinion-clusters"]
    shaper = Shaper(export, "clusters", BASE, frozenset())
    record = shaper.record(dict(dict.fromkeys(export.column_names, ""), id=1, docket_id=2))
    assert record["filepath_json_harvard"] is None and record["filepath_pdf_harvard"] is None
    assert record["summary"] == ""  # an empty text field stays empty text


@pytest.mark.parametrize(("text", "expected"), [
    ("2016-08-11 19:15:34.069087+00", "2016-08-11T12:15:34.069087-07:00"),
    ("2016-01-11 19:15:34.5+00", "2016-01-11T11:15:34.500000-08:00"),
    ("2016-01-11 19:15:34+00", "2016-01-11T11:15:34-08:00"),
])  # fmt: skip
def test_file_timestamps_take_the_apis_form(text: str, expected: str) -> None:
    column = EXPORTS["dockets"].column("date_modified")
    assert column is not None
    assert json_value(column, text) == expected
    moment = datetime.fromisoformat(text.replace(" ", "T") + ":00").astimezone(UTC)
    assert api_timestamp(moment) == expected
