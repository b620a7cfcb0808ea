"""The export catalogue: file names, headers, the server script's list, the row mapping."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from courtflow.bootstrap.exports import EXPORTS, NOT_RESOURCES, recognise
from courtflow.bootstrap.header import check_header
from courtflow.bootstrap.rows import bulk_hash, json_value, watermark_for
from courtflow.bootstrap.rowscope import plan_filters, row_predicate
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.scope import Scope
from courtflow.errors import BulkFileError, ConfigError

DOCKETS = EXPORTS["dockets"]


def test_file_names_give_the_export_and_its_date() -> None:
    assert recognise("dockets-2026-10-31.csv.bz2") == ("dockets", date(2026, 10, 31))
    assert recognise("opinion-clusters-2024-05-06.csv.bz2") == (
        "opinion-clusters", date(2024, 5, 6))
    assert recognise("financial-disclosures-non-investment-income-2024-01-02.csv") == (
        "financial-disclosures-non-investment-income", date(2024, 1, 2))
    assert recognise("dockets.csv.bz2") is None
    assert recognise("dockets-2026-13-40.csv.bz2") is None


def test_header_of_the_export_passes_and_reordered_columns_are_accepted() -> None:
    names = list(DOCKETS.column_names)
    assert check_header(DOCKETS, names, "f") == names
    assert check_header(DOCKETS, names[::-1], "f") == names[::-1]


def test_header_of_another_export_names_it() -> None:
    with pytest.raises(BulkFileError, match="'opinions' export") as info:
        check_header(DOCKETS, list(EXPORTS["opinions"].column_names), "dockets-2026-01-01.csv.bz2")
    assert info.value.line == 1 and info.value.file == "dockets-2026-01-01.csv.bz2"


def test_missing_and_renamed_columns_are_named() -> None:
    names = [n for n in DOCKETS.column_names if n != "slug"]
    with pytest.raises(BulkFileError, match="missing columns: slug"):
        check_header(DOCKETS, names, "f")
    renamed = ["court" if n == "court_id" else n for n in DOCKETS.column_names]
    with pytest.raises(BulkFileError, match=r"missing columns: court_id; unexpected columns: "
                       r"court \(renamed\?\)"):  # fmt: skip
        check_header(DOCKETS, renamed, "f")


def _script_exports() -> dict[str, list[str]]:
    """Export name -> columns, read from a copy of the server's make_bulk_data.sh."""
    script = Path(__file__).with_name("make_bulk_data_fields.txt").read_text()
    out = {}
    for name, cols in re.findall(r"^(\S+): (.*)$", script, re.M):
        out[name] = [c.strip() for c in cols.split(",")]
    return out


def test_every_export_of_the_server_script_is_catalogued_with_its_columns() -> None:
    script = _script_exports()
    assert set(script) == set(EXPORTS) | set(NOT_RESOURCES)
    for name, export in EXPORTS.items():
        assert list(export.column_names) == script[name], name


def test_json_values_take_the_api_types() -> None:
    col = {c.name: c for c in DOCKETS.columns}
    assert json_value(col["source"], "3") == 3
    assert json_value(col["blocked"], "t") is True
    assert json_value(col["date_filed"], "2024-01-02") == "2024-01-02"
    assert json_value(col["date_modified"], "2016-08-11 12:15:34.069087-07") == (
        "2016-08-11T12:15:34.069087-07:00")  # the API's own form (bootstrap/shape.py)
    assert json_value(col["case_name"], None) is None
    with pytest.raises(ValueError):
        json_value(col["source"], "abc")


def test_bulk_hashes_lose_ties_to_api_hashes() -> None:
    api = "0" * 15 + "1" + "0" * 48  # an API hash with 15 leading zeros
    assert bulk_hash("f" * 64) < api
    assert len(bulk_hash("a" * 64)) == 64


def test_watermark_is_the_export_date_minus_the_overlap() -> None:
    mark = watermark_for(date(2026, 10, 31), timedelta(days=1))
    assert mark.isoformat() == "2026-10-30T00:00:00+00:00"


def test_filters_on_file_columns_are_usable_relations_are_not() -> None:
    spec = RESOURCES["dockets"]
    plan = plan_filters(DOCKETS, spec, Scope.of(spec, {"court": "scotus", "id__gte": "5"}))
    assert not plan.unusable
    test = row_predicate(plan.usable)
    assert test({"court_id": "scotus", "id": 5})
    assert not test({"court_id": "ca9", "id": 5})
    assert not test({"court_id": "scotus", "id": 4})
    clusters = RESOURCES["clusters"]
    plan = plan_filters(EXPORTS["opinion-clusters"], clusters,
                        Scope.of(clusters, {"docket__court": "scotus"}))  # fmt: skip
    assert plan.unusable == ("docket__court",)


def test_text_and_date_lookups_match_as_the_server_does() -> None:
    spec = RESOURCES["dockets"]
    scope = Scope.of(spec, {"nature_of_suit__istartswith": "CIVIL", "date_filed__year": "2024",
                            "court__id": "ca9"})  # fmt: skip
    plan = plan_filters(DOCKETS, spec, scope)
    assert not plan.unusable
    test = row_predicate(plan.usable)
    row = {"nature_of_suit": "Civil Rights", "date_filed": "2024-03-01", "court_id": "ca9"}
    assert test(row)
    assert not test({**row, "nature_of_suit": "Contract"})
    assert not test({**row, "date_filed": None})
    assert not test({**row, "court_id": "ca1"})


def test_unknown_filter_is_refused_before_loading() -> None:
    with pytest.raises(ConfigError):
        Scope.of(RESOURCES["dockets"], {"nonsense": "1"})


def test_several_values_of_one_filter_are_any_of_them() -> None:
    # type=010combined&type=020lead: the server's MultipleChoiceFilter reads every value.
    spec = RESOURCES["opinions"]
    scope = Scope.of(spec, {"type": ["020lead", "010combined"], "per_curiam": "false"})
    plan = plan_filters(EXPORTS["opinions"], spec, scope)
    assert not plan.unusable
    test = row_predicate(plan.usable)
    row = {"type": "010combined", "per_curiam": False}
    assert test(row) and test({**row, "type": "020lead"})
    assert not test({**row, "type": "040dissent"})
    assert not test({**row, "per_curiam": True})
