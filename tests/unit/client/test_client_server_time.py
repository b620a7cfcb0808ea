"""The client learns the server's clock from its Date header (window ends are clamped to it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from client_fakes import Harness, page

from courtflow.catalogue.resources import get_resource

DOCKETS = get_resource("dockets")


def dated(value: str | None) -> httpx.Response:
    response = page([], None)
    if value is not None:
        response.headers["Date"] = value
    return response


def test_no_answer_yet_means_no_server_time(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    assert h.client.server_time is None and h.client.server_now() is None


def test_the_date_header_sets_the_server_clock_which_runs_at_our_rate(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    # A server clock two days behind ours: its own time is what counts.
    h.server.script.append(dated("Tue, 05 Dec 2026 10:00:00 GMT"))
    list(h.client.iter_pages(DOCKETS, since=datetime(2026, 1, 1, tzinfo=UTC),
                             until=datetime(2026, 12, 1, tzinfo=UTC)))  # fmt: skip
    seen = datetime(2026, 12, 5, 10, tzinfo=UTC)
    assert h.client.server_time == seen
    h.clock.now += 90.0
    assert h.client.server_now() == seen + timedelta(seconds=90)
    # A later answer without Date, or with a malformed one, keeps what was learnt.
    h.server.script += [dated(None), dated("yesterday")]
    list(h.client.iter_pages(DOCKETS))
    list(h.client.iter_pages(DOCKETS))
    assert h.client.server_time == seen
