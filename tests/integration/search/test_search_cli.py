"""`courtflow search` as a user runs it: refusals before any call, a run, plan, status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from search_support import admitted

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox


def courtflow(sandbox: RunningSandbox, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db,
        "COURTFLOW_SAFETY_MARGIN": "0",
        "COURTFLOW_RATES": "100000/hour",
    }
    return subprocess.run(
        [sys.executable, "-m", "courtflow.cli", "search", *args],
        env=env, capture_output=True, text=True, timeout=bound(300),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--filter", "order_by=dateFiled desc", "--type", "oa"],
         "order_by 'dateFiled desc' does not apply to type oa"),
        (["--filter", "order_by=newest"], "order_by 'newest' does not apply to type o"),
        (["--filter", "case_nmae=Smith"], "'case_nmae' is not a field of the server's search "
                                          "form (did you mean case_name?)"),
        (["--filter", "cited_gt=many"], "cited_gt must be a whole number"),
        (["--filter", "filed_after=2020-01-01"], "filed_after is the window of a type o walk"),
        (["--type", "x"], "unknown search type 'x'"),
        (["plan", "--filter", "judje=Smith"], "'judje' is not a field"),
    ],
)
def test_a_bad_order_by_or_a_misspelt_field_is_refused_with_no_call(
    sandbox: RunningSandbox, tmp_path: Path, args: list[str], says: str
) -> None:
    db = f"sqlite:///{tmp_path / 'refused.sqlite'}"
    if "--type" not in args:
        args = [*args, "--type", "o"]
    before = admitted(sandbox)
    done = courtflow(sandbox, db, *args, "--since", "2015-01-01")
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert admitted(sandbox) == before
    assert not (tmp_path / "refused.sqlite").exists()  # refused before the database, too


def test_plan_run_status_and_reset_as_a_user_sees_them(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    scope = ["--type", "o", "--filter", "cited_gt=350", "--since", "1700-01-01",
             "--until", "2030-01-01"]  # fmt: skip
    before = admitted(sandbox)
    plan = courtflow(sandbox, db, "plan", *scope)
    assert plan.returncode == 0, plan.stderr
    assert admitted(sandbox) - before == 1  # plan: one count call
    assert "hits -> about" in plan.stdout
    run = courtflow(sandbox, db, *scope, "--max-window-hits", "40", "-q")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["hits"] > 40 and summary["calls"] >= summary["pages"]
    status = courtflow(sandbox, db, "status", "--json")
    (entry,) = json.loads(status.stdout)
    assert entry["type"] == "o" and entry["scope"] == "q=&cited_gt=350"
    assert entry["open"] == 0 and entry["matched"] == summary["hits"]
    reset = courtflow(sandbox, db, "reset", "--type", "o", "--filter", "cited_gt=350")
    assert reset.returncode == 0 and "cleared" in reset.stdout
    again = courtflow(sandbox, db, *scope, "--max-window-hits", "40", "-q", "--book-next", "1d")
    assert json.loads(again.stdout.strip().splitlines()[-1])["new_matches"] == 0
