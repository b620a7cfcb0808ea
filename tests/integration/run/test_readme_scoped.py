"""The endpoint table of docs/endpoints.md is the catalogue; its scoped example runs
as written.

The ``sh`` block under "Scoped example" is run line by line against the sandbox (the
``courtflow`` CLI, SQLite target); each scoped sync stores exactly the scope's rows as
the sandbox counts them. The ``python`` block is the shipped scoped DAG's resources.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bounds import bound
from courtflow.airflow.dag_config import ResourceConfig
from courtflow.catalogue.resources import RESOURCES
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "docs" / "endpoints.md").read_text(encoding="utf-8")
PERMISSIONS = {"anonymous": "none (anonymous read)", "token": "a token (any account)"}


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end != -1 else None]


def code_block(text_: str, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", text_, re.S)
    assert match, f"no {language} block"
    return match.group(1)


def table_rows() -> list[list[str]]:
    body = section("# Endpoints and scoped syncs")
    lines = [ln for ln in body.splitlines() if ln.startswith("| `")]
    return [[cell.strip() for cell in ln.strip("|").split(" | ")] for ln in lines]


def test_the_endpoint_table_is_the_catalogue() -> None:
    rows = table_rows()
    assert [r[0].strip("`") for r in rows] == list(RESOURCES)
    for (endpoint, viewset, synced, why, permission) in rows:
        spec = RESOURCES[endpoint.strip("`")]
        assert viewset == f"`{spec.viewset}`"
        assert synced == spec.how_synced
        assert permission.startswith(PERMISSIONS[spec.permission])
        assert ("has_recap_api_access" in permission) == ("RECAP" in spec.note)
        if not spec.incremental:
            assert why == spec.note  # the reason it is not incremental
        else:
            assert "date_modified" in why


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    # Enough opinions cited and positions that every scope of the example has rows.
    config = SandboxConfig(rates=("1000000/hour",), volumes={
        "opinions-cited": 3000, "positions": 800, "dockets": 2000, "clusters": 1000,
        "opinions": 1000,
    })  # fmt: skip
    with start_sandbox(config) as running:
        yield running


def server_count(sandbox: RunningSandbox, argv: list[str]) -> int:
    resource = argv[argv.index("--resource") + 1]
    spec = RESOURCES[resource]
    params: dict[str, str] = {"count": "on"}
    for i, arg in enumerate(argv):
        if arg == "--filter":
            name, _, value = argv[i + 1].partition("=")
            params[name] = value
    if spec.incremental:
        params["date_modified__gte"] = argv[argv.index("--since") + 1]
        params["date_modified__lt"] = argv[argv.index("--until") + 1]
    response = httpx.get(f"{sandbox.url}/{spec.path}", params=params,
                         headers={"Authorization": f"Token {DEMO_TOKEN}"})  # fmt: skip
    count: Any = response.raise_for_status().json()["count"]
    return int(count)


def test_the_scoped_example_runs_as_written(sandbox: RunningSandbox, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'readme.sqlite'}"
    env = {**os.environ, "COURTLISTENER_API_BASE_URL": sandbox.url,
           "COURTLISTENER_API_TOKEN": DEMO_TOKEN, "COURTFLOW_DATABASE_URL": db,
           "COURTFLOW_RATES": "1000000/hour"}  # fmt: skip
    lines = [ln for ln in code_block(section("## Scoped example"), "sh").splitlines() if ln]
    assert len(lines) >= 3 and all(ln.startswith("courtflow ") for ln in lines)
    synced: dict[str, int] = {}
    for line in lines:
        argv = shlex.split(line)[1:]
        done = subprocess.run([sys.executable, "-m", "courtflow.cli", *argv], env=env,
                              capture_output=True, text=True, timeout=bound(300))  # fmt: skip
        assert done.returncode == 0, line + "\n" + done.stderr[-3000:]
        expected = server_count(sandbox, argv)
        assert expected > 0, line  # the example shows something
        if argv[0] == "plan":
            assert f": {expected} records" in done.stdout
        else:
            synced[RESOURCES[argv[argv.index("--resource") + 1]].table] = expected
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            stored = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in synced}  # fmt: skip
    finally:
        engine.dispose()
    assert stored == synced


def test_the_dag_example_is_the_shipped_scoped_dag() -> None:
    shown = ast.literal_eval("{" + code_block(section("## Scoped example"), "python") + "}")
    shipped = runpy.run_path(str(REPO / "dags" / "courtlistener_scoped.py"))["CONFIG"]
    assert shown["resources"] == shipped["resources"]
    scopes = [ResourceConfig.from_value(r) for r in shown["resources"]]
    assert {s.name for s in scopes} == {"dockets", "clusters", "opinions"}
    assert len({s.group_id for s in scopes}) == len(scopes)
