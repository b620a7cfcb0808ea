"""The sandbox applies exactly the catalogue's filters: every declared name and lookup
is accepted and means what django's ORM means; anything else is the server's 400."""

from __future__ import annotations

from datetime import date

import pytest

from courtflow.catalogue.filters import FilterField, fchoice, fdate, fdatetime, fint, ftext
from courtflow.catalogue.resources import RESOURCES
from courtflow.sandbox.filtering import Model, compare, field_value, parse_value
from courtflow.sandbox.query import ApiError, parse_list_query
from courtflow.sandbox.timefmt import parse_query_datetime

SAMPLES = {
    "int": "7", "float": "1.5", "date": "2020-02-03", "datetime": "2020-02-03T04:05:06Z",
    "bool": "true", "text": "Ab",
}  # fmt: skip


def sample(field: FilterField, lookup: str) -> str:
    if lookup in ("year", "month", "day", "hour", "minute", "second"):
        return "2"
    if lookup == "isnull":
        return "false"
    # Choices are checked on exact only; other lookups take the field's own type.
    if field.choices and lookup == "exact":
        one = field.choices[0]
    else:
        one = SAMPLES["text" if field.type == "choice" else field.type]
    return f"{one},{one}" if lookup in ("range", "in") else one


@pytest.mark.parametrize("name", [n for n in RESOURCES if RESOURCES[n].filters])
def test_every_declared_filter_and_lookup_is_accepted(name: str) -> None:
    spec = RESOURCES[name]
    for field in spec.filters:
        # Every lookup of the resource's own fields and of one hop; exact deeper down.
        lookups = field.lookups if field.name.count("__") <= 1 else ("exact",)
        for lookup in lookups:
            param = field.name if lookup == "exact" else f"{field.name}__{lookup}"
            parse_list_query(name, [(param, sample(field, lookup))])


@pytest.mark.parametrize("name", [n for n in RESOURCES if RESOURCES[n].filters])
def test_anything_else_is_the_servers_400(name: str) -> None:
    spec = RESOURCES[name]
    first = spec.filters[0]
    for param in ("no_such_filter", f"{first.name}__icontains", f"{first.name}__nope__exact"):
        with pytest.raises(ApiError) as caught:
            parse_list_query(name, [(param, "1")])
        assert caught.value.status == 400
        assert caught.value.body == {
            "detail": "Unknown filter parameters are not allowed.", "unknown_params": [param],
        }  # fmt: skip


@pytest.mark.parametrize("name", ["originating-court-information", "bankruptcy-information"])
def test_endpoints_without_a_filter_set_ignore_every_parameter(name: str) -> None:
    # The server validates and filters nothing there (no filterset_class): even the window.
    query = parse_list_query(name, [("date_modified__gte", "2024-01-01"), ("bogus", "1")])
    assert not query.spans and not query.conditions


@pytest.mark.parametrize(
    ("field", "lookup", "actual", "text", "expected"),
    [
        (ftext("n", ("iexact",)), "iexact", "Patent", "pATENT", True),
        (ftext("n", ("startswith",)), "startswith", "Patent law", "Pat", True),
        (ftext("n", ("startswith",)), "startswith", "Patent law", "pat", False),
        (ftext("n", ("istartswith",)), "istartswith", "Patent law", "pAT", True),
        (ftext("n", ("exact",)), "exact", "Patent", "patent", False),
        (ftext("n", ("in",)), "in", "ca9", "scotus,ca9", True),
        (ftext("n", ("gte",)), "gte", "12", "11", True),  # text compares as text
        (ftext("n", ("gte",)), "gte", "2", "11", True),
        (fint("n"), "gte", 5, "5", True),
        (fint("n"), "gt", 5, "5", False),
        (fint("n"), "lt", 4, "5", True),
        (fint("n"), "lte", 6, "5", False),
        (fint("n"), "range", 5, "5,9", True),
        (fint("n"), "range", 10, "5,9", False),
        (fint("n", ("exact", "isnull")), "isnull", None, "true", True),
        (fint("n", ("exact", "isnull")), "isnull", 3, "true", False),
        (fint("n"), "exact", [1, 2, 3], "2", True),  # to-many: any related row
        (fint("n"), "exact", None, "2", False),
        (fdate("d"), "year", date(2020, 5, 6), "2020", True),
        (fdate("d"), "month", date(2020, 5, 6), "5", True),
        (fdate("d"), "range", date(2020, 5, 6), "2020-05-06,2020-05-07", True),
        (fdate("d"), "lt", date(2020, 5, 6), "2020-05-06", False),
        (fchoice("c", ("F", "S")), "exact", "F", "F", True),
    ],
)  # fmt: skip
def test_lookups_mean_what_djangos_orm_means(
    field: FilterField, lookup: str, actual: object, text: str, expected: bool
) -> None:
    assert compare(field, lookup, actual, parse_value(field, lookup, text)) is expected


def test_date_parts_of_timestamps_are_in_the_servers_time_zone() -> None:
    field = fdatetime("date_created", ("hour", "day"))
    # 2024-01-02T03:00Z is 19:00 on the 1st in Los Angeles.
    row = Model(1, 0, parse_query_datetime("2024-01-02T03:00:00Z"), {})
    actual = field_value(row, "date_created", field)
    assert compare(field, "hour", actual, parse_value(field, "hour", "19"))
    assert compare(field, "day", actual, parse_value(field, "day", "1"))


@pytest.mark.parametrize(
    ("resource", "param", "value", "message"),
    [
        ("dockets", "date_filed__gte", "2020-13-01", "Enter a valid date."),
        ("dockets", "source__in", "1,x", "Enter a whole number."),
        ("opinions", "type", "999nope", "Select a valid choice. 999nope is not one of the "
                                        "available choices."),
        ("opinions", "per_curiam", "maybe", "Select a valid choice. maybe is not one of the "
                                            "available choices."),
        ("courts", "position__gte", "x", "Enter a number."),
    ],
)  # fmt: skip
def test_bad_values_are_field_errors(resource: str, param: str, value: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_list_query(resource, [(param, value)])
    assert caught.value.status == 400 and caught.value.body == {param: [message]}


CHOICE_ERROR = "Select a valid choice. {} is not one of the available choices."


@pytest.mark.parametrize(
    ("resource", "param", "value"),
    [
        ("people", "dob_state", "ZZ"),
        ("positions", "position_type", "Judge"),  # a group's label: only inner codes count
        ("positions", "how_selected", "Election"),
        ("fjc-integrated-database", "origin", "99"),
        ("dockets", "source", "65"),  # absent from the server's own list
        ("recap-documents", "ocr_status", "9"),
        ("clusters", "citations__type", "10"),
    ],
)
def test_a_value_outside_the_choices_is_the_servers_400(
    resource: str, param: str, value: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_list_query(resource, [(param, value)])
    assert caught.value.status == 400
    assert caught.value.body == {param: [CHOICE_ERROR.format(value)]}


def test_choices_bind_exact_only_and_inner_codes_pass() -> None:
    for resource, param, value in [
        ("people", "dob_state__startswith", "Z"), ("dockets", "source__in", "65,1"),
        ("positions", "position_type", "jud"), ("positions", "how_selected", "e_part"),
        ("recap-documents", "ocr_status__gte", "9"), ("clusters", "source", "ZLCU"),
    ]:  # fmt: skip
        assert parse_list_query(resource, [(param, value)]).conditions


def test_a_multiple_choice_filter_reads_every_repeated_value() -> None:
    query = parse_list_query("opinions", [("type", "010combined"), ("type", "020lead")])
    (condition,) = query.conditions
    assert (condition.lookup, condition.value) == ("in", ("010combined", "020lead"))
    with pytest.raises(ApiError) as caught:
        parse_list_query("opinions", [("type", "010combined"), ("type", "nonsense")])
    assert caught.value.body == {"type": [CHOICE_ERROR.format("nonsense")]}


def test_any_other_filter_repeated_reads_the_last_value() -> None:
    # QueryDict.get: the last value; the earlier ones are never validated.
    (condition,) = parse_list_query(
        "opinions", [("per_curiam", "maybe"), ("per_curiam", "true")]).conditions
    assert condition.value is True
    with pytest.raises(ApiError):
        parse_list_query("opinions", [("per_curiam", "true"), ("per_curiam", "maybe")])


def test_names_are_walked_as_the_server_walks_them() -> None:
    # is_valid_filter_param: any RelatedFilter path, back-references included, at most
    # four relations before the last name.
    assert parse_list_query("dockets", [("clusters__docket__court", "ca9")]).conditions
    assert parse_list_query("opinions", [("cluster__docket__court__dockets__id", "1")]).conditions
    too_deep = "cluster__docket__court__dockets__clusters__id"
    with pytest.raises(ApiError) as caught:
        parse_list_query("opinions", [(too_deep, "1")])
    assert caught.value.body["unknown_params"] == [too_deep]
