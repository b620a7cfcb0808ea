from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from courtflow.catalogue.window import Window, parse_instant
from courtflow.errors import ConfigError


def test_parse_instant_accepts_dates_zulu_and_offsets() -> None:
    assert parse_instant("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_instant("2024-01-01T08:00:00Z") == datetime(2024, 1, 1, 8, tzinfo=UTC)
    # Pacific time, as the server renders it, is converted to UTC.
    assert parse_instant("2024-01-01T00:00:00-08:00") == datetime(2024, 1, 1, 8, tzinfo=UTC)


def test_parse_instant_names_the_bad_input() -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_instant("yesterday", name="--since")


def test_split_covers_the_window_exactly() -> None:
    w = Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, 12, tzinfo=UTC))
    parts = list(w.split(timedelta(days=1)))
    assert [p.end - p.start for p in parts] == [timedelta(days=1)] * 2 + [timedelta(hours=12)]
    assert parts[0].start == w.start and parts[-1].end == w.end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))


def test_window_refuses_reversed_bounds() -> None:
    with pytest.raises(ConfigError):
        Window(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))


def test_clamp_cuts_the_end_at_the_limit_and_refuses_a_future_window() -> None:
    from courtflow.catalogue.window import clamp

    a, b, c = (datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    assert clamp(Window(a, c), b) == Window(a, b)
    assert clamp(Window(a, b), c) == Window(a, b)
    assert clamp(Window(b, c), b) is None  # starts at the limit: nothing to read yet
    assert clamp(Window(c, c), b) is None


def test_catch_up_rereads_the_lookback_and_stops_at_the_limit() -> None:
    from courtflow.catalogue.window import catch_up

    mark, limit = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert catch_up(mark, limit, timedelta(hours=1)) == Window(mark - timedelta(hours=1), limit)
    assert catch_up(mark, limit, timedelta(0)) == Window(mark, limit)
    assert catch_up(limit, limit, timedelta(hours=1)) is None
