"""``courtflow bootstrap`` as users run it: from a URL, killed halfway and rerun."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bounds import bound
from bulk_support import hostile_dockets, write_dockets
from courtflow.catalogue.resources import RESOURCES
from courtflow.cli import main
from courtflow.store import table_checksum
from courtflow.store.engine import make_engine
from pg_support import scratch_database


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "www"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def _run(db: str, *args: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object] | None, str]:
    monkeypatch.setenv("COURTFLOW_DATABASE_URL", db)
    code = main(["bootstrap", "--quiet", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_bootstrap_from_a_url_prints_a_summary_and_spends_no_call(
    db_url: str, file_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, folder = file_server
    write_dockets(folder / "dockets-2024-03-01.csv.bz2", hostile_dockets(250))
    code, summary, err = _run(db_url, "--file", f"{base}/dockets-2024-03-01.csv.bz2",
                              monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert summary == {"stored": {"dockets": {"new": 250, "changed": 0, "unchanged": 0}},
                       "table_totals": {"dockets": 250}, "api_calls": 0,
                       "throttled": 0,
                       "errors": 0, "rejected": 0, "bulk": {"files": 1, "deleted": 0,
                                             "rows_read": 250, "rows_written": 250}}  # fmt: skip
    assert "watermark 2024-02-29T00:00:00+00:00" in err
    code, _, err = _run(db_url, "--file", f"{base}/dockets-2024-04-01.csv.bz2",
                        monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert code == 2 and "HTTP 404" in err and "dockets-2024-04-01.csv.bz2" in err


def test_cli_refuses_a_scope_it_cannot_evaluate(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(5))
    code, _, err = _run(sqlite_url, "--file", str(path), "--resource", "dockets",
                              "--filter", "court=scotus", "--overlap", "2d",
                              monkeypatch=monkeypatch, capsys=capsys)  # fmt: skip
    assert code == 0 and "watermark 2024-02-28" in err
    wrong = tmp_path / "export.csv.bz2"
    wrong.write_bytes(path.read_bytes())
    code, _, err = _run(sqlite_url, "--file", str(wrong), monkeypatch=monkeypatch,
                        capsys=capsys)  # fmt: skip
    assert code == 2 and "not recognised as a bulk export" in err


def _offset(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT max(byte_offset) FROM bulk_loads")).scalar()
            return int(value or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


# About 25 s each (a real process killed mid-file): make test runs PostgreSQL, make
# test-slow SQLite too; the resume logic above the loader is the same for both.
@pytest.mark.parametrize(
    "db_url", ["postgresql", pytest.param("sqlite", marks=pytest.mark.slow)], indirect=True
)
def test_a_bootstrap_killed_halfway_resumes_and_ends_with_the_same_table(
    db_url: str, tmp_path: Path
) -> None:
    path = write_dockets(tmp_path / "dockets-2024-03-01.csv.bz2", hostile_dockets(6000))
    env = {**os.environ, "COURTFLOW_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "courtflow.cli", "bootstrap", "--file", str(path),
               "--chunk-mb", "0.02", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + bound(120)
    while _offset(db_url) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=bound(30))
    assert _offset(db_url) > 0
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=bound(300))
    assert rerun.returncode == 0, rerun.stderr
    assert "(resumed)" in rerun.stderr or "already loaded" in rerun.stderr
    engine = make_engine(db_url)
    with engine.connect() as conn:
        killed = table_checksum(conn, RESOURCES["dockets"])
    with ExitStack() as stack:
        # One uninterrupted load into a fresh database of the same kind.
        clean = (f"sqlite:///{tmp_path / 'clean.sqlite'}" if db_url.startswith("sqlite")
                 else stack.enter_context(scratch_database("courtflow_clean")))  # fmt: skip
        subprocess.run(command, env={**env, "COURTFLOW_DATABASE_URL": clean}, check=True,
                       capture_output=True)  # fmt: skip
        with make_engine(clean).connect() as conn:
            # Same rows and versions (load metadata aside).
            assert table_checksum(conn, RESOURCES["dockets"]) == killed
    assert killed[0] == 6000
