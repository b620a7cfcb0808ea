"""Every endpoint's identity rule against the server's serializers, and the sandbox's
records against both.

``serializer_facts.json`` is what ``read_serializer_facts.py`` read from the server's
source (freelawproject/courtlistener, the commit it records): for each viewset the
catalogue names, its serializer and whether that serializer sends ``id``. Only
``fjc-integrated-database`` does not (a plain ``HyperlinkedModelSerializer``); its
records are keyed by the last path segment of ``resource_uri``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from courtflow.catalogue.resources import RESOURCES
from courtflow.errors import BadPayloadError
from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.records import Links
from courtflow.store.convert import partition_page, record_id

FACTS = json.loads(Path(__file__).with_name("serializer_facts.json").read_text())
ENDPOINTS: dict[str, dict[str, Any]] = FACTS["endpoints"]
LINKS = Links("http://sandbox.test/api/rest/v4/")
FJC = RESOURCES["fjc-integrated-database"]


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(SandboxConfig(seed=3, volumes={"dockets": 5, "fjc-integrated-database": 5}))


def test_the_facts_cover_the_catalogue_and_name_its_viewsets() -> None:
    assert len(FACTS["commit"]) == 40
    assert set(ENDPOINTS) == set(RESOURCES)
    for name, fact in ENDPOINTS.items():
        assert fact["viewset"].endswith(":" + RESOURCES[name].viewset), name
    # The facts are not all one answer: the contract below can fail either way.
    assert {f["sends_id"] for f in ENDPOINTS.values()} == {True, False}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_each_endpoint_declares_the_identity_its_serializer_gives(name: str) -> None:
    expected = "id" if ENDPOINTS[name]["sends_id"] else "resource_uri"
    assert RESOURCES[name].identity == expected, ENDPOINTS[name]["serializer"]


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_the_sandbox_sends_id_exactly_where_the_server_does(name: str, data: Dataset) -> None:
    if name == "courts":  # the real courts, kept apart from the generated tables
        row = data.courts.row(data.courts.courts[0])
    else:
        table = data.table(name)
        assert len(table) > 0, name
        row = table.row(0)
    record = data.render(name, row, LINKS)
    assert ("id" in record) == ENDPOINTS[name]["sends_id"], name
    assert isinstance(record["resource_uri"], str)
    # Whatever the rule, the key it yields is the record's own (the link's last part).
    key = record_id(RESOURCES[name], record)
    assert str(key) == record["resource_uri"].rstrip("/").rsplit("/", 1)[-1]


def test_fjc_records_are_keyed_by_their_resource_uri(data: Dataset) -> None:
    table = data.table(FJC.name)
    records = [data.render(FJC.name, table.row(i), LINKS) for i in range(len(table))]
    rows, rejected = partition_page(FJC, records, "r", records and _now())
    assert rejected == []
    assert sorted(item.row["id"] for item in rows) == sorted(
        int(r["resource_uri"].rstrip("/").rsplit("/", 1)[-1]) for r in records)
    assert all("id" not in item.row["data"] for item in rows)  # stored as sent


def test_an_fjc_record_without_a_usable_resource_uri_is_rejected_naming_it() -> None:
    with pytest.raises(BadPayloadError, match="resource_uri"):
        record_id(FJC, {"id": 5, "date_modified": "2024-01-01T00:00:00-08:00"})
    with pytest.raises(BadPayloadError, match="not a fjc-integrated-database/ link"):
        record_id(FJC, {"resource_uri": "http://x/api/rest/v4/dockets/5/"})
    assert record_id(FJC, {"resource_uri": "/api/rest/v4/fjc-integrated-database/77/"}) == 77


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
