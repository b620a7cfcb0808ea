"""Scopes and their filters: checked locally, before any call is spent."""

from __future__ import annotations

import pytest

from courtflow.catalogue.filters import check_filters, parse_filter_items
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.scope import WHOLE, Scope
from courtflow.errors import ConfigError

DOCKETS = RESOURCES["dockets"]
OPINIONS = RESOURCES["opinions"]


def test_scope_key_is_canonical_whatever_the_order() -> None:
    a = Scope.of(DOCKETS, {"court": "scotus", "date_filed__gte": "2020-01-01"})
    b = Scope.of(DOCKETS, {"date_filed__gte": "2020-01-01", "court": "scotus"})
    assert a == b
    assert a.key == "court=scotus&date_filed__gte=2020-01-01"
    assert a.label == "dockets?court=scotus&date_filed__gte=2020-01-01"


def test_whole_resource_scope() -> None:
    scope = Scope.of(DOCKETS)
    assert scope.key == WHOLE == ""
    assert scope.label == "dockets"
    assert scope.params() == {}


def test_related_filter_is_accepted() -> None:
    scope = Scope.of(OPINIONS, {"cluster__docket__court": "ca9"})
    assert scope.params() == {"cluster__docket__court": "ca9"}


def test_unknown_filter_names_itself_and_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        Scope.of(DOCKETS, {"cort": "scotus"})
    message = str(err.value)
    assert "'cort'" in message and "dockets" in message
    assert "court" in message and "date_filed" in message


def test_unsupported_lookup_lists_the_field_lookups() -> None:
    with pytest.raises(ConfigError) as err:
        Scope.of(DOCKETS, {"nature_of_suit__icontains": "patent"})
    message = str(err.value)
    assert "'icontains'" in message and "exact, iexact, startswith, istartswith" in message


def test_a_lookup_the_server_lacks_is_refused_on_a_relation() -> None:
    # court is a RelatedFilter: the server validates court__in against CourtFilter, which
    # has no 'in' filter, and answers 400.
    with pytest.raises(ConfigError) as err:
        Scope.of(DOCKETS, {"court__in": "scotus,ca9"})
    message = str(err.value)
    assert "'court__in'" in message and "valid lookups: exact" in message


def test_window_parameters_are_not_filters() -> None:
    with pytest.raises(ConfigError, match="--since/--until"):
        Scope.of(DOCKETS, {"date_modified__gte": "2020-01-01"})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("date_filed__gte", "2020-02-30", "not a date"),
        ("id__gt", "ten", "not an integer"),
        ("id__gt", str(2**64), "out of range"),
        ("source__in", "1,,2", "empty item"),
        ("date_filed__range", "2020-01-01", "low,high"),
    ],
)
def test_values_are_checked_by_type(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        check_filters(DOCKETS, {name: value})


def test_values_are_normalised() -> None:
    checked = check_filters(
        DOCKETS, {"source__in": " 1 , 9", "id__gte": "007", "date_filed__year": "2020"}
    )
    assert checked == {"source__in": "1,9", "id__gte": "7", "date_filed__year": "2020"}
    assert check_filters(OPINIONS, {"per_curiam": "True"}) == {"per_curiam": "true"}


def test_cli_filter_items() -> None:
    assert parse_filter_items(["court=scotus", "nature_of_suit__icontains=pat=ent"]) == {
        "court": "scotus",
        "nature_of_suit__icontains": "pat=ent",
    }
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_filter_items(["court"])
    # A name given again is a second value; only a filter taking several accepts it.
    assert parse_filter_items(["court=a", "court=b"]) == {"court": ("a", "b")}
    with pytest.raises(ConfigError) as err:
        Scope.of(DOCKETS, parse_filter_items(["court=a", "court=b"]))
    message = str(err.value)
    assert "'court' on dockets takes one value, got 2 ('a', 'b')" in message
    assert message.endswith("filters taking several values here: none")
