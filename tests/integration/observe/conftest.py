"""Ledger databases for the observability tests, and a headless Chromium to render with.

The PostgreSQL ledger lives in its own database on the test server: the session's
``pg_url`` database is shared with other areas' tests, whose rows would change the
counts here (and ours theirs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from observe_ledger import LedgerDb, build_all

from bounds import bound
from courtflow.store.engine import dispose_engine, make_engine
from pg_support import scratch_database


@pytest.fixture(scope="session")
def observe_pg_url(pg_url: str) -> Iterator[str]:
    """A database of our own next to the session's ``pg_url`` database."""
    with scratch_database("courtflow_observe", pg_url) as url:
        yield url


@pytest.fixture(scope="session")
def pg_ledger(observe_pg_url: str) -> LedgerDb:
    engine = make_engine(observe_pg_url)
    return engine, build_all(engine)


@pytest.fixture(scope="session")
def sqlite_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerDb]:
    url = f"sqlite:///{tmp_path_factory.mktemp('observe') / 'ledger.sqlite'}"
    engine = make_engine(url)
    yield engine, build_all(engine)
    dispose_engine(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest) -> LedgerDb:
    """The same ledger in SQLite and in PostgreSQL."""
    name = "sqlite_ledger" if request.param == "sqlite" else "pg_ledger"
    db: LedgerDb = request.getfixturevalue(name)
    return db


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path to a headless-capable Chromium; installs Debian's package when root and missing."""
    found = _find_chromium()
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=bound(300),
                           capture_output=True)  # fmt: skip
            subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=True,
                           timeout=bound(600), capture_output=True)  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"Chromium is not installed and `apt-get install chromium` failed: {exc}")
        found = _find_chromium()
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium) and cannot be here")
    return found
