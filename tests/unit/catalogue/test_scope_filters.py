"""Scopes and their filters: checked locally, before any call is spent."""

from __future__ import annotations

import pytest

from courtflow.catalogue.filters import check_filters, parse_filter_items
from courtflow.catalogue.resources import RESOURCES, ResourceSpec
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


PEOPLE = RESOURCES["people"]
POSITIONS = RESOURCES["positions"]
CLUSTERS = RESOURCES["clusters"]


@pytest.mark.parametrize(
    ("spec", "name", "value", "named"),
    [
        (PEOPLE, "dob_state", "ZZ", "AL, AK, AS"),
        (POSITIONS, "position_type", "nonsense", "jud, jus"),
        (POSITIONS, "position_type", "Judge", "jud, jus"),  # a group's label, not a code
        (POSITIONS, "how_selected", "Election", "e_part, e_non_part, a_pres"),
        (RESOURCES["fjc-integrated-database"], "origin", "99", "1, 2, 3"),
        (RESOURCES["recap-documents"], "ocr_status", "9", "1, 2, 3, 4"),
        (RESOURCES["investments"], "gross_value_code", "Q", "J, K, L"),
        (DOCKETS, "source", "65", "0-64, 66-255"),  # the server's own list skips 65
        (OPINIONS, "cluster__docket__source", "300", "0-64, 66-255"),
    ],
)
def test_an_invalid_choice_is_refused_naming_the_valid_values(
    spec: ResourceSpec, name: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError) as err:
        Scope.of(spec, {name: value})
    message = str(err.value)
    assert f"{value!r} is not one of the valid values: {named}" in message


def test_choices_are_checked_on_exact_only() -> None:
    # django-filter makes a ChoiceFilter for exact; other lookups keep the field's type.
    assert Scope.of(PEOPLE, {"dob_state__startswith": "Z"}).key == "dob_state__startswith=Z"
    assert Scope.of(DOCKETS, {"source__in": "1,65"}).key == "source__in=1%2C65"
    with pytest.raises(ConfigError, match="not an integer"):
        Scope.of(DOCKETS, {"source__in": "1,x"})
    assert Scope.of(POSITIONS, {"position_type": "jud", "how_selected": "e_part"}).filters


@pytest.mark.parametrize("code", ["U", "Q", "CRU", "LCU", "LRU", "LCRU", "ZLU", "ZCU", "ZLCU"])
def test_the_nine_cluster_sources_are_accepted_wherever_they_reach(code: str) -> None:
    assert Scope.of(CLUSTERS, {"source": code}).filters == (("source", code),)
    assert Scope.of(OPINIONS, {"cluster__source": code}).filters
    assert Scope.of(DOCKETS, {"clusters__source": code}).filters


def test_several_values_are_repeated_parameters_with_a_stable_key() -> None:
    a = Scope.of(OPINIONS, {"type": ["020lead", "010combined"], "per_curiam": "false"})
    b = Scope.of(OPINIONS, {"per_curiam": "false", "type": ("010combined", "020lead")})
    c = Scope.of(OPINIONS, parse_filter_items(
        ["type=020lead", "per_curiam=false", "type=010combined", "type=020lead"]))
    assert a == b == c
    assert a.key == "per_curiam=false&type=010combined&type=020lead"
    assert a.params() == {"per_curiam": "false", "type": ["010combined", "020lead"]}
    assert Scope.of(OPINIONS, a.mapping()) == a
    # One value is still one value, with the key it always had.
    assert Scope.of(OPINIONS, {"type": ["020lead"]}).key == "type=020lead"


def test_every_filter_production_takes_several_values_for_is_repeatable() -> None:
    assert Scope.of(RESOURCES["courts"], {"jurisdiction": ["F", "FD"]}).filters
    assert Scope.of(RESOURCES["audio"], {"source": ["C", "H"]}).filters
    assert Scope.of(CLUSTERS, {"source": ["C", "U"]}).filters
    assert Scope.of(PEOPLE, {"race": ["w", "b"]}).filters
    nested = Scope.of(DOCKETS, {"clusters__sub_opinions__type": ["020lead", "010combined"]})
    assert [v for _, v in nested.filters] == ["010combined", "020lead"]


def test_several_values_are_refused_where_production_reads_one() -> None:
    with pytest.raises(ConfigError) as err:
        Scope.of(PEOPLE, {"gender": ["m", "f"]})
    message = str(err.value)
    assert "'gender' on people takes one value, got 2 ('m', 'f')" in message
    assert message.endswith("filters taking several values here: race")
    with pytest.raises(ConfigError, match="valid values"):
        Scope.of(OPINIONS, {"type": ["010combined", "nonsense"]})
    # A list for __in is its comma-separated items, as django-filter reads them.
    assert Scope.of(DOCKETS, {"source__in": [9, 1]}).filters == (("source__in", "9,1"),)


def test_relation_paths_back_along_another_link_are_accepted() -> None:
    assert Scope.of(OPINIONS, {"author__opinions_joined__type": "020lead"}).filters
    assert Scope.of(PEOPLE, {"opinions_written__joined_by__name_last": "Doe"}).filters
    # Straight back along the same link: this docket again, said with the shorter name.
    with pytest.raises(ConfigError) as err:
        Scope.of(DOCKETS, {"clusters__docket__court": "ca9"})
    assert str(err.value) == (
        "filter 'clusters__docket__court' on dockets: clusters__docket leads straight back "
        "to where it started (a back-reference, left out); say 'court'"
    )
    with pytest.raises(ConfigError, match="back-reference, left out\\); say 'name_last'"):
        Scope.of(PEOPLE, {"opinions_written__author__name_last": "Doe"})


def test_tags_and_citations_are_filters() -> None:
    assert Scope.of(DOCKETS, {"tags__name": "pacer"}).filters
    assert Scope.of(RESOURCES["docket-entries"], {"tags": "3"}).filters
    assert Scope.of(RESOURCES["recap-documents"], {"tags__id": "3"}).filters
    assert len(Scope.of(CLUSTERS, {"citations__reporter": "U.S.", "citations__volume": "410"})
               .filters) == 2
    assert Scope.of(OPINIONS, {"cluster__citations__type": "1"}).filters
    with pytest.raises(ConfigError, match="valid values: 1, 2, 3"):
        Scope.of(CLUSTERS, {"citations__type": "10"})
