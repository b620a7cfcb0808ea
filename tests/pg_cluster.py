"""A PostgreSQL cluster of its own, to restart and stop under a running sync.

The shared test server must never be restarted; this one lives in a temporary folder,
listens on a free loopback port, and belongs to the ``postgres`` user when the tests
run as root (PostgreSQL refuses to run as root).

    with own_cluster() as cluster:
        url = cluster.url("secret")      # any password: the cluster trusts loopback
        cluster.restart()                # fast shutdown: every session gets 57P01
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bounds import bound


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (initdb, pg_ctl)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if not found:
        found = [p for p in (shutil.which("pg_ctl"),) if p]
    if not found:
        raise RuntimeError("no pg_ctl found (install PostgreSQL server binaries)")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One initdb'd data folder and the commands to start, stop and restart it."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.bin = pg_bin()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(a) for a in args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=bound(timeout))

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w",
                  "-o", options, "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast", down_seconds: float = 0.0) -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def url(self, password: str | None = None, database: str = "postgres") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg://postgres{secret}@127.0.0.1:{self.port}/{database}"


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """A started cluster in a temporary folder; stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="courtflow-pg-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.SubprocessError, OSError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
