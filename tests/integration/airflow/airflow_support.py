"""Helpers for the Airflow integration tests: environments, connections, DAG files,
PostgreSQL databases, an alert receiver and a StatsD collector, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bounds import bound
from pg_support import scratch_database

REPO = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_env(home: Path, dags: Path, extra: Mapping[str, str] | None = None,
                metadata_url: str | None = None) -> dict[str, str]:  # fmt: skip
    """A clean environment for one Airflow installation: nothing inherited from ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "COURTFLOW_", "COURTLISTENER_"))}  # fmt: skip
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # Airflow's own hang guards, scaled like ours (tests/bounds.py): on a busy host
        # importing a DAG file alone can outlast the 30 s default.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": f"{bound(30.0):g}",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": f"{bound(50.0):g}",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": f"{bound(5.0):g}",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": f"{bound(300.0):g}",
    })  # fmt: skip
    env.update(extra or {})
    return env


def scheduler_env(home: Path, dags: Path, *, metadata_url: str, api_port: int, name: str,
                  extra: Mapping[str, str] | None = None) -> dict[str, str]:  # fmt: skip
    """:func:`airflow_env` for a whole deployment on loopback: scheduler, dag-processor,
    triggerer and api-server on PostgreSQL metadata, DAGs unpaused, quick polling.
    ``name`` keeps the JWT secret apart per deployment; ``extra`` adds the executor's."""
    return airflow_env(home, dags, metadata_url=metadata_url, extra={
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": f"courtflow-{name}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        **(extra or {}),
    })  # fmt: skip


def connection(conn_type: str = "courtlistener", **fields: Any) -> str:
    """An ``AIRFLOW_CONN_<ID>`` value (Airflow's JSON connection format)."""
    return json.dumps({"conn_type": conn_type, **fields})


def write_dag(dags: Path, config: Mapping[str, Any]) -> Path:
    """A configuration-only DAG file, as a user would write it."""
    path = dags / f"{config['dag_id']}.py"
    path.write_text(
        '"""Written by the courtflow integration tests."""\n\n'
        "from courtflow.airflow.dag_factory import build_dag\n\n"
        f"CONFIG = {dict(config)!r}\n\n"
        "dag = build_dag(CONFIG)\n"
    )
    return path


def run(cmd: list[str], env: Mapping[str, str], timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``timeout``: an idle machine's bound, scaled here (tests/bounds.py)."""
    return subprocess.run(cmd, env=dict(env), capture_output=True, text=True,
                          timeout=bound(timeout))


def new_airflow_home(template: Path, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, where / "airflow.db")
    return where


class PgDatabases:
    """Fresh PostgreSQL databases on the test server, all dropped by :meth:`drop_all`."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def create(self) -> str:
        return self._stack.enter_context(scratch_database("courtflow_af"))

    def drop_all(self) -> None:
        self._stack.close()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps every POST (alert webhooks, Slack)."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        self._server.received = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def received(self) -> list[tuple[str, bytes]]:
        return list(self._server.received)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class StatsdCollector:
    """A UDP socket on 127.0.0.1 collecting StatsD lines in a thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.lines.extend(data.decode(errors="replace").splitlines())

    def close(self, linger: float = 1.0) -> list[str]:
        time.sleep(linger)  # packets sent just before the process exited
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        return self.lines


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for servers that cannot report theirs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Services:
    """Long-running Airflow components, each in its own process group so that stopping
    one stops everything it started (executor workers, supervisors)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], env: Mapping[str, str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            cmd, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        text_ = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text_.splitlines()[-lines:])

    def listening(self) -> set[tuple[str, int, str]]:
        """(address, port, process name) of every TCP socket listened on by the services
        and their descendants."""
        import psutil

        found: set[tuple[str, int, str]] = set()
        for root in self.procs.values():
            try:
                procs = [psutil.Process(root.pid)]
                procs += procs[0].children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for proc in procs:
                try:
                    conns = proc.net_connections(kind="tcp")
                    name = " ".join(proc.cmdline()[:3])
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                found |= {(c.laddr.ip, c.laddr.port, name) for c in conns
                          if c.status == psutil.CONN_LISTEN}  # fmt: skip
        return found

    def stop(self) -> None:
        import signal

        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + bound(20)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # The group too: children may outlive a parent that exited on SIGTERM.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=bound(5))
