"""Sandbox data: deterministic synthetic records, real fixtures, API v4 record shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.fixtures import listed_courts, load_courts, load_records
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.records import Links
from courtflow.sandbox.synth import SYNTHETIC_BASE_ID, Generator, Stream, Volumes, synthetic_times
from courtflow.sandbox.timefmt import parse_query_datetime, render, to_us

LINKS = Links("http://sandbox.test/api/rest/v4/")
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
SMALL = {"dockets": 120, "clusters": 150, "opinions": 200, "docket-entries": 90,
         "recap-documents": 130, "people": 40}  # fmt: skip


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(SandboxConfig(seed=7, volumes=SMALL))


def record(data: Dataset, resource: str, record_id: int) -> dict[str, object]:
    table = data.table(resource)
    slot = table.slot(record_id)
    assert slot is not None, (resource, record_id)
    return data.render(resource, table.row(slot), LINKS)


def link_id(link: object) -> str:
    assert isinstance(link, str) and link.startswith(LINKS.base)
    return link.rstrip("/").rsplit("/", 1)[1]


def test_synthetic_times_are_a_function_of_seed_and_resource() -> None:
    a = synthetic_times(3, "dockets", 500, to_us(START), to_us(END))
    b = synthetic_times(3, "dockets", 500, to_us(START), to_us(END))
    c = synthetic_times(4, "dockets", 500, to_us(START), to_us(END))
    d = synthetic_times(3, "clusters", 500, to_us(START), to_us(END))
    assert a == b and a != c and a != d


def test_synthetic_modified_times_fall_in_range_with_ties_and_follow_creation() -> None:
    modified, created = synthetic_times(0, "opinions", 2000, to_us(START), to_us(END))
    assert all(to_us(START) <= m < to_us(END) for m in modified)
    assert len(set(modified)) < len(modified)  # ties exist, to page through
    assert all(c < m for c, m in zip(created, modified, strict=True))
    assert list(created) == sorted(created)  # creation order is id order


def test_synthetic_fields_are_reproducible_across_generators() -> None:
    volumes = Volumes(10, 10, 10, 10, 10, 10)
    one, two = Generator(5, volumes, ["ca1", "scotus"]), Generator(5, volumes, ["ca1", "scotus"])
    for resource in (
        "dockets",
        "clusters",
        "opinions",
        "docket-entries",
        "recap-documents",
        "people",
    ):
        assert one.fields(resource, 3) == two.fields(resource, 3)
    assert Generator(6, volumes, ["ca1", "scotus"]).fields("dockets", 3) != one.fields("dockets", 3)


def test_generation_is_pinned_to_known_values() -> None:
    # Fixed values: a change here silently changes every synthetic record and benchmark.
    assert Stream(0, "dockets", 0).next() == 15157439922685214864
    assert Stream(1, "people", 2).below(1000) == 92
    modified, _ = synthetic_times(0, "dockets", 3, to_us(START), to_us(END))
    assert list(modified) == [1708114787691423, 1707577591856123, 1705080248495498]


def test_fixture_courts_are_deduplicated_and_testing_courts_left_out() -> None:
    courts = load_courts()
    ids = [c.pk for c in courts]
    assert len(ids) == len(set(ids)) == 422  # court_data.json has 458 rows, 36 repeated
    listed = [c.pk for c in listed_courts()]
    assert "scotus" in listed and "test" not in listed and len(listed) == 420
    positions = [float(c.fields["position"]) for c in listed_courts()]
    assert positions == sorted(positions)


def test_fixture_records_take_the_last_definition_of_a_key() -> None:
    dockets = {r.pk: r for r in load_records()["dockets"]}
    assert dockets[1].fields["court"] == "ca1"  # recap_docs.json loads after test_objects
    assert dockets[1].fields["pacer_case_id"] == "28766"
    assert set(dockets) == {1, 2, 3, 10, 11, 12}


def test_records_have_the_v4_shape_with_links_and_ids_side_by_side(data: Dataset) -> None:
    docket = record(data, "dockets", SYNTHETIC_BASE_ID + 5)
    assert docket["resource_uri"] == f"{LINKS.base}dockets/{SYNTHETIC_BASE_ID + 5}/"
    assert docket["id"] == SYNTHETIC_BASE_ID + 5
    assert link_id(docket["court"]) == docket["court_id"]
    cluster = record(data, "clusters", SYNTHETIC_BASE_ID + 5)
    assert link_id(cluster["docket"]) == str(cluster["docket_id"])
    opinion = record(data, "opinions", SYNTHETIC_BASE_ID + 5)
    assert link_id(opinion["cluster"]) == str(opinion["cluster_id"])
    assert "docket_entry" not in record(data, "recap-documents", SYNTHETIC_BASE_ID)
    assert "notes" not in data.render("courts", data.courts.row(data.courts.courts[0]), LINKS)


def test_synthetic_relations_point_at_existing_records_both_ways(data: Dataset) -> None:
    courts = {str(c.row.pk) for c in data.courts.courts}
    for index in range(SMALL["dockets"]):
        docket = record(data, "dockets", SYNTHETIC_BASE_ID + index)
        assert docket["court_id"] in courts
        for link in docket["clusters"]:  # type: ignore[attr-defined]
            child = record(data, "clusters", int(link_id(link)))
            assert child["docket_id"] == docket["id"]
    for index in range(SMALL["clusters"]):
        cluster = record(data, "clusters", SYNTHETIC_BASE_ID + index)
        assert data.table("dockets").slot(int(cluster["docket_id"])) is not None  # type: ignore[arg-type]
        for link in cluster["sub_opinions"]:  # type: ignore[attr-defined]
            assert record(data, "opinions", int(link_id(link)))["cluster_id"] == cluster["id"]
    for index in range(SMALL["opinions"]):
        opinion = record(data, "opinions", SYNTHETIC_BASE_ID + index)
        assert data.table("clusters").slot(int(opinion["cluster_id"])) is not None  # type: ignore[arg-type]


def test_docket_entries_nest_their_recap_documents(data: Dataset) -> None:
    entry = record(data, "docket-entries", SYNTHETIC_BASE_ID + 3)
    nested = entry["recap_documents"]
    assert isinstance(nested, list) and nested
    assert nested[0] == record(data, "recap-documents", nested[0]["id"])
    assert record(data, "docket-entries", 1)["recap_documents"][0]["id"] == 1  # type: ignore[index]


def test_timestamps_render_in_pacific_time_with_the_offset_of_the_day() -> None:
    winter = to_us(datetime(2024, 1, 15, 12, 0, tzinfo=UTC))
    summer = to_us(datetime(2024, 7, 15, 12, 0, 0, 250, tzinfo=UTC))
    assert render(winter) == "2024-01-15T04:00:00-08:00"
    assert render(summer) == "2024-07-15T05:00:00.000250-07:00"
    assert parse_query_datetime(render(summer)) == summer


def test_served_timestamps_are_the_indexed_instants(data: Dataset) -> None:
    table = data.table("opinions")
    for slot in range(0, len(table), 37):
        served = data.render("opinions", table.row(slot), LINKS)
        assert parse_query_datetime(str(served["date_modified"])) == table.modified[slot]
        assert str(served["date_modified"])[-6:] in ("-08:00", "-07:00")


def test_touch_moves_a_record_in_the_modified_order_and_revises_its_content() -> None:
    data = Dataset(SandboxConfig(volumes=SMALL))
    table = data.table("dockets")
    record_id = SYNTHETIC_BASE_ID + 10
    before = record(data, "dockets", record_id)
    when = datetime(2024, 7, 4, 12, 0, tzinfo=UTC)
    assert data.touch("dockets", [record_id, 999_999], when) == 1
    after = record(data, "dockets", record_id)
    assert after["date_modified"] == "2024-07-04T05:00:00-07:00"
    assert after["case_name"] != before["case_name"]
    order = [table.ids[s] for s in table.by_modified]
    assert order[-1] == record_id  # July is after every synthetic time
    keys = [(table.modified[s], table.ids[s]) for s in table.by_modified]
    assert keys == sorted(keys)
