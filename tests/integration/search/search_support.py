"""Helpers of the search integration tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, text

from courtflow.config import Settings
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox
from courtflow.store.engine import make_engine


def settings_for(sandbox: RunningSandbox, db: str, **env: str) -> Settings:
    return Settings.from_env({
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db,
        "COURTFLOW_SAFETY_MARGIN": "0",
        "COURTFLOW_RATES": "100000/hour",
        **env,
    })  # fmt: skip


def server_hits(sandbox: RunningSandbox, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    """Every hit of a search, walked directly (the ground truth a sync must match)."""
    out: list[dict[str, Any]] = []
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        body = client.get(f"{sandbox.url}/search/", params=params).json()
        out += body["results"]
        while body["next"]:
            body = client.get(body["next"]).json()
            out += body["results"]
    ids = [h[key] for h in out]
    assert len(ids) == len(set(ids)), "the sandbox's walk repeated a hit"
    return out


def admitted(sandbox: RunningSandbox) -> int:
    """Requests the server admitted for the demo token (its own count)."""
    return len(sandbox.state.admissions(DEMO_TOKEN))


def engine_of(db: str) -> Engine:
    return make_engine(db)


def ids(engine: Engine, sql: str, **params: Any) -> set[int]:
    with engine.connect() as conn:
        return {int(r[0]) for r in conn.execute(text(sql), params)}
