"""Tied timestamps: the server's positionless cursor, and courtflow loading such windows exactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.store import Checkpoint

SPEC = get_resource("dockets")
START = datetime(2024, 1, 5, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(days=2))
HEADERS = {"Authorization": f"Token {DEMO_TOKEN}"}


class Crash(Exception):
    pass


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(volumes={"dockets": 600})) as sb:
        yield sb


def walk(sandbox: RunningSandbox, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of a listing, walked by id (a cursor that never ties): the ground truth."""
    rows: list[dict[str, Any]] = []
    url: str | None = f"{sandbox.url}/dockets/"
    query: dict[str, str] | None = {**params, "order_by": "id"}
    with httpx.Client(headers=HEADERS) as http:
        while url is not None:
            page = http.get(url, params=query).json()
            rows.extend(page["results"])
            url, query = page["next"], None
    return rows


def tie_rows(sandbox: RunningSandbox) -> tuple[set[int], set[int]]:
    """45 rows bulk-updated to the window's first instant, 25 more one microsecond later."""
    outside = [r["id"] for r in walk(sandbox, {"date_modified__gte": "2024-02-01T00:00:00Z"})]
    first, second = outside[:45], outside[45:70]
    assert len(second) == 25
    sandbox.touch("dockets", first, when=START)
    sandbox.touch("dockets", second, when=START + timedelta(microseconds=1))
    return set(first), set(second)


def settings_for(sandbox: RunningSandbox, db: str) -> Settings:
    return Settings.from_env(
        {
            "COURTLISTENER_API_BASE_URL": sandbox.url,
            "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
            "COURTFLOW_DATABASE_URL": db,
            "COURTFLOW_SAFETY_MARGIN": "0",
        }
    )


def stored_ids(settings: Settings) -> set[int]:
    with open_pipeline(settings) as p, p.engine.connect() as conn:
        return {int(r[0]) for r in conn.execute(text("SELECT id FROM cl_dockets"))}


def test_sandbox_links_a_positionless_cursor_and_refuses_it_as_the_server_does(
    sandbox: RunningSandbox,
) -> None:
    tie_rows(sandbox)
    params = {
        "order_by": "date_modified",
        "date_modified__gte": "2024-01-05T00:00:00Z",
        "date_modified__lt": "2024-01-07T00:00:00Z",
    }
    with httpx.Client(headers=HEADERS) as http:
        first = http.get(f"{sandbox.url}/dockets/", params=params).json()
        assert httpx.URL(first["next"]).params["cursor"] == "bz0yMA=="  # "o=20", no position
        answer = http.get(first["next"])
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Invalid cursor"}


def test_a_window_starting_with_tied_rows_loads_exactly(
    sandbox: RunningSandbox, sqlite_url: str
) -> None:
    first, second = tie_rows(sandbox)
    expected = {
        r["id"]
        for r in walk(sandbox, {"date_modified__gte": "2024-01-05T00:00:00Z",
                                "date_modified__lt": "2024-01-07T00:00:00Z"})
    }  # fmt: skip
    assert first | second < expected
    settings = settings_for(sandbox, sqlite_url)
    with open_pipeline(settings, run_id="ties") as p:
        result = p.sync(SPEC, WINDOW, run_id="ties")
    assert stored_ids(settings) == expected
    assert sandbox.stats()["per_status"].get("404", 0) == 0
    # The 45 + 25 tied rows cost their id walks, not a dead end.
    assert result.pages >= len(expected) // 20 + 1


def test_a_crash_inside_the_tied_instant_resumes_from_the_id_ordered_walk(
    sandbox: RunningSandbox, sqlite_url: str
) -> None:
    tie_rows(sandbox)
    expected = {
        r["id"]
        for r in walk(sandbox, {"date_modified__gte": "2024-01-05T00:00:00Z",
                                "date_modified__lt": "2024-01-07T00:00:00Z"})
    }  # fmt: skip
    settings = settings_for(sandbox, sqlite_url)
    saved: list[str | None] = []

    def crash_in_tie_walk(_spec: object, cp: Checkpoint, _stored: object) -> None:
        saved.append(cp.next_url)
        if cp.pages == 2:
            raise Crash

    with open_pipeline(settings, run_id="crash") as p, pytest.raises(Crash):
        p.sync(SPEC, WINDOW, run_id="crash", on_page=crash_in_tie_walk)
    resume = httpx.URL(saved[-1] or "")
    assert resume.params["order_by"] == "id"
    assert resume.params["date_modified"] == "2024-01-05T00:00:00Z"
    assert resume.params["date_modified__lt"] == "2024-01-07T00:00:00Z"
    with open_pipeline(settings, run_id="rerun") as p:
        result = p.sync(SPEC, WINDOW, run_id="rerun")
    assert result.resumed
    assert stored_ids(settings) == expected


def test_a_checkpoint_saved_on_the_positionless_cursor_resumes(
    sandbox: RunningSandbox, sqlite_url: str
) -> None:
    """A checkpoint written before this fix holds the server's dead link: no longer stuck."""
    tie_rows(sandbox)
    expected = {
        r["id"]
        for r in walk(sandbox, {"date_modified__gte": "2024-01-05T00:00:00Z",
                                "date_modified__lt": "2024-01-07T00:00:00Z"})
    }  # fmt: skip
    settings = settings_for(sandbox, sqlite_url)
    dead = (
        f"{sandbox.url}/dockets/?cursor=bz0yMA%3D%3D&date_modified__gte=2024-01-05T00%3A00%3A00Z"
        "&date_modified__lt=2024-01-07T00%3A00%3A00Z&order_by=date_modified"
    )
    from courtflow.store import save_checkpoint

    with open_pipeline(settings) as p, p.engine.begin() as conn:
        save_checkpoint(conn, Checkpoint("dockets", WINDOW.start, WINDOW.end, next_url=dead), "old")
    with open_pipeline(settings, run_id="unstuck") as p:
        p.sync(SPEC, WINDOW, run_id="unstuck")
    assert stored_ids(settings) == expected
    assert sandbox.stats()["per_status"].get("404", 0) == 0


def test_a_scope_keeps_its_filters_on_the_tie_walks(sqlite_url: str) -> None:
    window_params = {"date_modified__gte": "2024-01-05T00:00:00Z",
                     "date_modified__lt": "2024-01-07T00:00:00Z"}  # fmt: skip
    with start_sandbox(SandboxConfig(volumes={"dockets": 6000})) as sandbox:
        courts = Counter(r["court_id"] for r in walk(sandbox, {}))
        court, size = courts.most_common(1)[0]
        assert size > 21
        # A bulk update of the scope's rows: its walk starts with 21+ tied rows.
        sandbox.touch("dockets", [r["id"] for r in walk(sandbox, {"court": court})], when=START)
        expected = {r["id"] for r in walk(sandbox, {**window_params, "court": court})}
        everything = {r["id"] for r in walk(sandbox, window_params)}
        assert len(expected) > 21 and expected < everything
        settings = settings_for(sandbox, sqlite_url)
        with open_pipeline(settings, run_id="scoped") as p:
            p.sync(SPEC, WINDOW, run_id="scoped", scope=Scope.of(SPEC, {"court": court}))
        assert stored_ids(settings) == expected
        assert sandbox.stats()["per_status"].get("404", 0) == 0
