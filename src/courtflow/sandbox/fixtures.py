"""Read the real Django fixtures shipped in ``fixtures/`` into model-shaped rows.

Fixture files are loaded in a fixed order and, as Django's ``loaddata`` does, a later
row with the same primary key replaces an earlier one. Reverse relations (a docket's
clusters, a cluster's opinions, an entry's documents) are filled in here so fixture
rows look like synthetic ones to the serializers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from courtflow.sandbox.timefmt import to_us

COURT_FILE = "court_data.json"
RECORD_FILES = (
    "test_objects_search.json",
    "test_objects_query_counts.json",
    "functest_opinions.json",
    "opinions-issue-412.json",
    "recap_docs.json",
    "judge_judy.json",
    "functest_audio.json",
)
MODEL_RESOURCE = {
    "search.docket": "dockets",
    "search.opinioncluster": "clusters",
    "search.opinion": "opinions",
    "search.docketentry": "docket-entries",
    "search.recapdocument": "recap-documents",
    "people_db.person": "people",
    "search.opinionscited": "opinions-cited",
    "audio.audio": "audio",
    "people_db.position": "positions",
    "people_db.retentionevent": "retention-events",
    "people_db.education": "educations",
    "people_db.school": "schools",
    "people_db.politicalaffiliation": "political-affiliations",
    "people_db.source": "sources",
    "people_db.abarating": "aba-ratings",
    "people_db.party": "parties",
    "people_db.attorney": "attorneys",
}
TESTING_JURISDICTION = "T"  # the real court list leaves testing courts out


@dataclass(frozen=True)
class FixtureRow:
    """One fixture record: its key, model fields and timestamps in microseconds."""

    pk: Any
    fields: dict[str, Any]
    date_modified: int
    date_created: int | None


def _read(name: str) -> list[dict[str, Any]]:
    text = resources.files("courtflow.sandbox").joinpath("fixtures", name).read_text("utf-8")
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _stamp(value: str | None) -> int | None:
    return None if value is None else to_us(datetime.fromisoformat(value))


def _row(item: dict[str, Any]) -> FixtureRow:
    fields = dict(item["fields"])
    modified = _stamp(fields.pop("date_modified", None))
    created = _stamp(fields.pop("date_created", None))
    if modified is None:
        modified = created if created is not None else 0
    return FixtureRow(pk=item["pk"], fields=fields, date_modified=modified, date_created=created)


@cache
def load_courts() -> tuple[FixtureRow, ...]:
    """Every court of ``court_data.json`` (last row per id wins), in ``position`` order."""
    merged: dict[str, FixtureRow] = {}
    for item in _read(COURT_FILE):
        if item.get("model") == "search.court":
            merged[str(item["pk"])] = _row(item)
    return tuple(sorted(merged.values(), key=lambda r: (float(r.fields["position"]), r.pk)))


def listed_courts() -> tuple[FixtureRow, ...]:
    return tuple(r for r in load_courts() if r.fields.get("jurisdiction") != TESTING_JURISDICTION)


@cache
def load_records() -> dict[str, tuple[FixtureRow, ...]]:
    """Records of every fixture model the catalogue lists, by resource."""
    by_model: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
    for name in RECORD_FILES:
        for item in _read(name):
            by_model[item["model"]][item["pk"]] = item
    _link_children(by_model)
    return {
        resource: tuple(sorted((_row(i) for i in by_model[model].values()), key=lambda r: r.pk))
        for model, resource in MODEL_RESOURCE.items()
    }


def _children_of(items: Iterable[dict[str, Any]], parent_field: str) -> dict[Any, list[Any]]:
    children: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        parent = item["fields"].get(parent_field)
        if parent is not None:
            children[parent].append(item["pk"])
    return children


def _link_children(by_model: dict[str, dict[Any, dict[str, Any]]]) -> None:
    clusters = _children_of(by_model["search.opinioncluster"].values(), "docket")
    for pk, item in by_model["search.docket"].items():
        item["fields"]["clusters"] = sorted(clusters.get(pk, []))
    opinions = _children_of(by_model["search.opinion"].values(), "cluster")
    citations: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for cite in by_model["search.citation"].values():
        f = cite["fields"]
        citations[f["cluster"]].append(
            {k: f.get(k) for k in ("volume", "reporter", "page", "type")}
        )
    for pk, item in by_model["search.opinioncluster"].items():
        item["fields"]["sub_opinions"] = sorted(opinions.get(pk, []))
        item["fields"]["citations"] = citations.get(pk, [])
    cited: dict[Any, set[Any]] = defaultdict(set)
    for link in by_model["search.opinionscited"].values():
        cited[link["fields"]["citing_opinion"]].add(link["fields"]["cited_opinion"])
    for pk, item in by_model["search.opinion"].items():
        item["fields"]["opinions_cited"] = sorted(cited.get(pk, set()))
    races = {pk: item["fields"]["race"] for pk, item in by_model["people_db.race"].items()}
    for item in by_model["people_db.person"].values():
        item["fields"]["race"] = [races.get(r, r) for r in item["fields"].get("race") or ()]
    # Parties and attorneys meet dockets through party types and roles (join models).
    party_dockets: dict[Any, set[Any]] = defaultdict(set)
    attorney_links: dict[Any, tuple[set[Any], set[Any]]] = defaultdict(lambda: (set(), set()))
    for link in by_model["people_db.partytype"].values():
        party_dockets[link["fields"]["party"]].add(link["fields"]["docket"])
    for link in by_model["people_db.role"].values():
        f = link["fields"]
        party_dockets[f["party"]].add(f["docket"])
        attorney_links[f["attorney"]][0].add(f["docket"])
        attorney_links[f["attorney"]][1].add(f["party"])
    for pk, item in by_model["people_db.party"].items():
        item["fields"]["dockets"] = sorted(party_dockets.get(pk, set()))
    for pk, item in by_model["people_db.attorney"].items():
        dockets, parties = attorney_links.get(pk, (set(), set()))
        item["fields"]["dockets"], item["fields"]["parties"] = sorted(dockets), sorted(parties)
    documents = _children_of(by_model["search.recapdocument"].values(), "docket_entry")
    for pk, item in by_model["search.docketentry"].items():
        item["fields"]["recap_documents"] = sorted(documents.get(pk, []))
