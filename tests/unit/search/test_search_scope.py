"""Search scopes are checked before any call; windows, splits and id ranges are exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from courtflow.catalogue.window import Window
from courtflow.errors import ConfigError
from courtflow.search.form import TYPES
from courtflow.search.hydrate import id_ranges
from courtflow.search.scope import SearchScope
from courtflow.search.walk import _gaps, _halves


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def test_the_key_is_canonical_and_the_window_becomes_the_types_inclusive_date_filters() -> None:
    a = SearchScope.of("o", " qualified immunity ", {"court": "ca9 ca1", "judge": "Smith"})
    b = SearchScope.of("o", "qualified immunity", {"judge": "Smith", "court": "ca1,ca9"})
    assert a == b and a.key == "q=qualified+immunity&court=ca1+ca9&judge=Smith"
    params = a.params(Window(day(2015, 1, 1), day(2015, 2, 1)))
    assert params["filed_after"] == "2015-01-01" and params["filed_before"] == "2015-01-31"
    assert params["order_by"] == "dateFiled asc" and params["type"] == "o"
    rd = SearchScope.of("rd", "").params(Window(day(2020, 5, 1), day(2020, 5, 2)))
    assert rd["entry_date_filed_after"] == rd["entry_date_filed_before"] == "2020-05-01"
    oa = SearchScope.of("oa", "").params(Window(day(2020, 5, 1), day(2020, 5, 3)))
    assert (oa["argued_after"], oa["argued_before"]) == ("2020-05-01", "2020-05-02")
    assert "born_after" not in SearchScope.of("p", "").params(Window(day(2020, 1, 1),
                                                                     day(2021, 1, 1)))


@pytest.mark.parametrize(
    ("type_code", "filters", "message"),
    [
        ("o", {"case_nmae": "x"}, "did you mean case_name"),
        ("o", {"order_by": "dateArgued desc"}, "does not apply to type o"),
        ("o", {"order_by": "dateFiled asc"}, "order_by is set by courtflow"),
        ("o", {"cited_gt": "1.5"}, "whole number"),
        ("o", {"filed_before": "2020-01-01"}, "use --since/--until"),
        ("r", {"entry_date_filed_after": "2020-13-01"}, "YYYY-MM-DD"),
        ("o", {"stat_Pubished": "on"}, "no such precedential status"),
        ("o", {"court": "ca9;drop"}, "court ids"),
        ("o", {"available_only": "maybe"}, "on or off"),
        ("o", {"q": "x"}, "use --type/--q"),
        ("zz", {}, "unknown search type"),
    ],
)
def test_a_bad_filter_is_refused_with_a_message_naming_it(
    type_code: str, filters: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchScope.of(type_code, "", filters)


def test_every_type_walks_in_an_order_that_applies_to_it() -> None:
    for kind in TYPES.values():
        assert kind.walk_order in kind.order_by
        assert kind.walk_order.endswith(" asc")  # oldest first: windows fill in order


def test_a_window_splits_at_its_middle_day_and_gaps_are_what_nothing_covers() -> None:
    w = Window(day(2015, 1, 1), day(2015, 1, 11))
    assert _halves(w) == (Window(day(2015, 1, 1), day(2015, 1, 6)),
                          Window(day(2015, 1, 6), day(2015, 1, 11)))  # fmt: skip
    covered = [Window(day(2015, 1, 2), day(2015, 1, 4)), Window(day(2015, 1, 3), day(2015, 1, 5))]
    assert _gaps(w, covered) == [Window(day(2015, 1, 1), day(2015, 1, 2)),
                                 Window(day(2015, 1, 5), day(2015, 1, 11))]  # fmt: skip
    assert _gaps(w, [w]) == []


def test_id_ranges_never_cost_more_than_one_call_per_id() -> None:
    ranges = id_ranges([5, 1, 3, 2, 4, 500, 10_000, 10_019, 10_039])
    assert [(r.low, r.high) for r in ranges] == [(1, 5), (500, 500), (10_000, 10_039)]
    for r in ranges:
        assert r.max_calls <= len(r.ids)
    assert id_ranges(range(1, 101))[0].max_calls == 5  # dense ids: 20 a call
