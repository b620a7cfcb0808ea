"""The catalogue's filters against production's own ``OPTIONS`` answers.

The record is ``../shared/courtlistener/production-options-2026-08-11.json`` (Free Law
Project's SDK cache of the API's ``OPTIONS``), read here at test time and never copied into
the package. For every endpoint with a filter set, every name courtflow accepts, to the
depth it walks (:data:`~courtflow.catalogue.filtersets.EXPAND_DEPTH` relations), has
production's lookups and choices, and production's names are all accepted, except:

- the endpoint's own ``date_modified``: the sync sets its window itself (``RESERVED``);
- a path through a true back-reference (a relation followed by its own inverse,
  :func:`~courtflow.catalogue.filtersets.inverse`), which says nothing the shorter path
  does not;
- ``Tag`` and ``Citation`` (``tags``, ``citations``) are no endpoints, so production's
  ``OPTIONS`` has no list of their filters: theirs come from the server's source only.

Related filter sets are named there by the model's plural (``See available filters for
'People'``); :data:`PLURALS` maps those to endpoints, and the catalogue's target must be
one of them.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from courtflow.catalogue.filters import BASIC, FilterField
from courtflow.catalogue.filtersets import (
    EXPAND_DEPTH,
    FILTER_SET_OF,
    FILTER_SETS,
    Related,
    expand,
    inverse,
)
from courtflow.catalogue.resources import RESOURCES

OPTIONS_FILE = (
    Path(__file__).resolve().parents[3].parent
    / "shared" / "courtlistener" / "production-options-2026-08-11.json"
)  # fmt: skip
FILTERED = sorted(FILTER_SET_OF)
# "See available filters for '<plural>'" -> the endpoints whose filter set that can be.
PLURALS: dict[str, tuple[str, ...]] = {
    "Courts": ("courts",), "Dockets": ("dockets",), "Docket Entries": ("docket-entries",),
    "Recap Documents": ("recap-documents",), "Audio Files": ("audio",),
    "Opinion Clusters": ("clusters",), "Opinions": ("opinions",), "People": ("people",),
    "Positions": ("positions", "disclosure-positions"), "Retention Events": ("retention-events",),
    "Educations": ("educations",), "Schools": ("schools",),
    "Political Affiliations": ("political-affiliations",), "Sources": ("sources",),
    "American Bar Association Ratings": ("aba-ratings",), "Parties": ("parties",),
    "Attorneys": ("attorneys",), "Financial Disclosures": ("financial-disclosures",),
    "Agreements": ("agreements",), "Debts": ("debts",), "Gifts": ("gifts",),
    "Investments": ("investments",), "Non Investment Incomes": ("non-investment-incomes",),
    "Reimbursements": ("reimbursements",), "Spouse Incomes": ("spouse-incomes",),
    "Tags": (), "Citations": (),  # no endpoint: the catalogue's own (server source)
}  # fmt: skip
SOURCE_ONLY = frozenset({"TagFilter", "CitationFilter"})
CHOICE_TYPES = ("ChoiceFilter", "MultipleChoiceFilter")


@cache
def options() -> dict[str, Any]:
    if not OPTIONS_FILE.is_file():
        pytest.fail(f"the production OPTIONS record is missing: {OPTIONS_FILE}")
    data: dict[str, Any] = json.loads(OPTIONS_FILE.read_text(encoding="utf-8"))
    return data


def codes(choices: list[dict[str, Any]]) -> set[str]:
    """Production's choices as codes: a group's ``display_name`` is the repr of its inner
    ``(code, label)`` pairs, and only those inner codes are valid values."""
    out: set[str] = set()
    for choice in choices:
        label = choice["display_name"]
        if isinstance(label, str) and label.startswith("[("):
            out.update(str(code) for code, _ in ast.literal_eval(label))
        else:
            out.add(str(choice["value"]))
    return out


Entry = tuple[tuple[str, ...], frozenset[str], bool]  # lookups, choices, multiple


def own_entries(set_name: str) -> dict[str, Entry]:
    """One filter set's own names as production lists them (relations: exact)."""
    resource = FILTER_SETS[set_name].resource
    if set_name in SOURCE_ONLY:
        return {f.name: (f.lookups, frozenset(f.choices), f.multiple)
                for f in FILTER_SETS[set_name].fields}  # fmt: skip
    out: dict[str, Entry] = {}
    for name, spec in options()[resource]["filters"].items():
        if spec["type"] == "RelatedFilter":
            out[name] = (BASIC, frozenset(), False)
        else:
            out[name] = (
                tuple(spec["lookup_types"]),
                frozenset(codes(spec.get("choices", []))) if spec["type"] in CHOICE_TYPES
                else frozenset(),
                spec["type"] == "MultipleChoiceFilter",
            )
    return out


def production_related(set_name: str) -> dict[str, str]:
    """Production's RelatedFilters of a set: name -> the catalogue set it must lead to,
    checked against the plural production names it by."""
    if set_name in SOURCE_ONLY:
        return {}
    catalogue = {r.name: r for r in FILTER_SETS[set_name].related}
    out: dict[str, str] = {}
    for name, spec in options()[FILTER_SETS[set_name].resource]["filters"].items():
        if spec["type"] != "RelatedFilter":
            continue
        plural = spec["lookup_types"].split("'")[1]
        assert name in catalogue, f"{set_name}: production's relation {name!r} is missing"
        target = FILTER_SETS[catalogue[name].target]
        allowed = PLURALS[plural]
        assert (target.resource in allowed) if allowed else target.name in SOURCE_ONLY, (
            f"{set_name}.{name} leads to {target.name}; production says {plural!r}"
        )
        out[name] = target.name
    return out


@cache
def production_names(set_name: str, depth: int) -> dict[str, Entry]:
    """Every name production accepts on ``set_name`` through at most ``depth`` relations
    (then the relation compared by key), back-references included."""
    out = dict(own_entries(set_name))
    if depth > 0:
        for name, target in production_related(set_name).items():
            for sub, entry in production_names(target, depth - 1).items():
                out[f"{name}__{sub}"] = entry
    return out


def back_reference(set_name: str, name: str) -> bool:
    """Whether ``name`` walks a relation and then straight back along it."""
    came: Related | None = None
    came_from = ""
    current = set_name
    for part in name.split("__")[:-1]:
        rel = next((r for r in FILTER_SETS[current].related if r.name == part), None)
        if rel is None:
            return False  # a lookup or a field: the walk ends here
        if inverse(came, came_from, rel):
            return True
        came, came_from, current = rel, current, rel.target
    last = name.rsplit("__", 1)[-1]
    rel = next((r for r in FILTER_SETS[current].related if r.name == last), None)
    return rel is not None and inverse(came, came_from, rel)


def accepted(resource: str) -> dict[str, FilterField]:
    return {f.name: f for f in RESOURCES[resource].filters}


@pytest.mark.parametrize("resource", FILTERED)
def test_top_level_names_lookups_and_choices_are_productions(resource: str) -> None:
    prod = own_entries(FILTER_SET_OF[resource])
    mine = accepted(resource)
    exceptions = {"date_modified"}  # the sync's window
    assert set(prod) - exceptions == {n for n in mine if "__" not in n}
    for name in set(prod) - exceptions:
        lookups, choices, multiple = prod[name]
        field = mine[name]
        assert field.lookups == lookups, name
        assert frozenset(field.choices) == choices, name
        assert field.multiple == multiple, name


@pytest.mark.parametrize("resource", FILTERED)
def test_every_path_is_productions_except_true_back_references(resource: str) -> None:
    set_name = FILTER_SET_OF[resource]
    prod = {n: e for n, e in production_names(set_name, EXPAND_DEPTH).items()
            if n != "date_modified"}  # fmt: skip
    mine = accepted(resource)
    assert set(mine) <= set(prod), sorted(set(mine) - set(prod))[:10]
    refused = set(prod) - set(mine)
    wrong = sorted(n for n in refused if not back_reference(set_name, n))
    assert not wrong, f"{resource}: valid paths refused: {wrong[:10]}"
    for name, field in mine.items():
        lookups, choices, multiple = prod[name]
        assert (field.lookups, frozenset(field.choices), field.multiple) == (
            lookups, choices, multiple
        ), name


def test_a_path_back_along_another_link_is_kept() -> None:
    # The example: an opinion's author's joined opinions are other rows.
    names = accepted("opinions")
    assert "author__opinions_joined__type" in names
    assert "cluster__sub_opinions__type" not in names  # back to the cluster's own opinions
    assert back_reference("OpinionFilter", "cluster__sub_opinions__type")
    # The catalogue's expansion drops exactly those: nothing else is missing.
    assert len(expand("OpinionFilter")) == len(names) + 1  # + its own date_modified


def test_the_nine_cluster_sources_and_the_grouped_inner_codes() -> None:
    clusters = accepted("clusters")["source"]
    for code in ("U", "Q", "CRU", "LCU", "LRU", "LCRU", "ZLU", "ZCU", "ZLCU"):
        assert code in clusters.choices
        assert code in accepted("opinions")["cluster__source"].choices
        assert code in accepted("dockets")["clusters__source"].choices
    position_type = accepted("positions")["position_type"]
    assert "jud" in position_type.choices and "Judge" not in position_type.choices
    assert accepted("positions")["how_selected"].choices[:2] == ("e_part", "e_non_part")


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_the_ordering_courtflow_sends_is_one_production_lists(resource: str) -> None:
    spec = RESOURCES[resource]
    listed = options()[resource].get("ordering")
    if resource == "opinions-cited":
        # No ordering_fields on OpinionsCitedViewSet, so OPTIONS lists none; order_by=id is
        # taken by the v4 cursor pagination (cursor_ordering_fields = ["id"]): README.
        assert listed is None and spec.order_by == "id" and spec.orderings == ("id",)
        return
    if resource in ("originating-court-information", "bankruptcy-information", "tag"):
        # None of these viewsets has a filter set or ordering_fields; each takes the id
        # cursor (cursor_ordering_fields), so OPTIONS lists no ordering (README).
        assert listed is None and spec.order_by == "id"
        return
    assert spec.order_by in listed
    assert list(spec.orderings) == listed
