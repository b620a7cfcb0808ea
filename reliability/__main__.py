"""Run ``courtflow sync`` through every fault we know and write a results table.

Bounded and loopback only: the sandbox serves the API on 127.0.0.1, and the target is a
PostgreSQL cluster of this run's own (initdb + pg_ctl in a temporary folder, see
tests/pg_cluster.py), so it can be restarted, crashed and stopped under a running sync.
Each scenario syncs the same window into a fresh database with the real CLI (a separate
process, as a user runs it), then compares with a clean reference run:

- rows lost: reference rows missing at the end (records rejected on purpose excluded);
- duplicates: rows that are not in the reference, or the same id twice;
- 429s: 429 answers of the main quota during the scenario (injected bursts included);
- calls re-spent: calls admitted by the server beyond the reference run's.

    python -m reliability --out reliability/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from courtflow.catalogue.resources import get_resource  # noqa: E402
from courtflow.sandbox import (  # noqa: E402
    DEMO_TOKEN,
    FaultConfig,
    RunningSandbox,
    SandboxConfig,
    start_sandbox,
)
from courtflow.store.tables import resource_table, sync_rejects  # noqa: E402
from pg_cluster import Cluster, own_cluster  # noqa: E402

SPEC = get_resource("dockets")
SINCE, UNTIL = "2024-01-01T00:00:00Z", "2024-01-11T00:00:00Z"
PASSWORD = "reliability-secret"


@dataclass
class Outcome:
    name: str
    faults: str
    runs: int = 0
    rows_lost: int = 0
    duplicates: int = 0
    throttled: int = 0
    respent: int = 0
    rejected: int = 0
    result: str = ""
    ok: bool = True
    notes: list[str] = field(default_factory=list)


class Harness:
    def __init__(self, cluster: Cluster, sandbox: RunningSandbox) -> None:
        self.cluster = cluster
        self.sandbox = sandbox
        self.reference_ids: set[int] = set()
        self.reference_calls = 0

    def database(self) -> str:
        name = f"rel_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.cluster.url(PASSWORD, name)

    def start(self, db: str, run_id: str, **env: str) -> subprocess.Popen[str]:
        environment = {
            **os.environ,
            "COURTLISTENER_API_BASE_URL": self.sandbox.url,
            "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
            "COURTFLOW_DATABASE_URL": db,
            **env,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "courtflow.cli", "sync", "--resource", SPEC.name,
             "--since", SINCE, "--until", UNTIL, "--run-id", run_id],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, db: str, outcome: Outcome, **env: str) -> tuple[int, str]:
        proc = self.start(db, f"rel-{outcome.runs}", **env)
        _, err = proc.communicate(timeout=600)
        outcome.runs += 1
        return proc.returncode, err

    def pages(self, db: str) -> int:
        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT coalesce(max(pages),0) FROM sync_checkpoints"))
                           .scalar_one())  # fmt: skip
        except Exception:
            return 0
        finally:
            engine.dispose()

    def wait_pages(self, db: str, n: int, proc: subprocess.Popen[str]) -> bool:
        deadline = time.monotonic() + 300
        while self.pages(db) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def ids(self, db: str) -> tuple[list[int], int]:
        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                t = resource_table(SPEC)
                ids = list(conn.execute(select(t.c.id)).scalars())
                rejected = int(conn.execute(select(func.count()).select_from(sync_rejects))
                               .scalar_one())  # fmt: skip
                return ids, rejected
        finally:
            engine.dispose()

    def scenario(
        self, name: str, faults: str, body: Callable[[str, Outcome], None],
        config: FaultConfig | None = None, expect_lost: set[int] | None = None,
    ) -> Outcome:  # fmt: skip
        outcome = Outcome(name, faults)
        self.sandbox.set_faults(config or FaultConfig())
        before = self.sandbox.stats()
        db = self.database()
        started = time.monotonic()
        try:
            body(db, outcome)
        finally:
            self.sandbox.set_faults(FaultConfig())
        after = self.sandbox.stats()
        ids, outcome.rejected = self.ids(db)
        expected = self.reference_ids - (expect_lost or set())
        outcome.rows_lost = len(expected - set(ids))
        outcome.duplicates = len(ids) - len(set(ids)) + len(set(ids) - self.reference_ids)
        outcome.throttled = after["throttled"] - before["throttled"]
        outcome.respent = after["admitted"] - before["admitted"] - self.reference_calls
        outcome.ok = outcome.ok and outcome.rows_lost == 0 and outcome.duplicates == 0
        outcome.notes.append(f"{time.monotonic() - started:.0f}s")
        status = "ok" if outcome.ok else "FAILED"
        print(f"{status:6} {name}: {outcome}", file=sys.stderr, flush=True)
        return outcome


def completes(h: Harness, reruns: int = 2, **env: str) -> Callable[[str, Outcome], None]:
    """Completes, possibly after rerunning a run that ended on a transient error (exit 1),
    as a scheduler's retry would."""
    def body(db: str, o: Outcome) -> None:
        for _ in range(reruns + 1):
            code, err = h.run(db, o, **env)
            if code != 1:
                break
        o.ok = code == 0 and "Traceback" not in err
        again = f" after {o.runs - 1} rerun(s)" if o.runs > 1 else ""
        o.result = f"completed{again}" if code == 0 else f"exit {code}: {err.strip()[-200:]}"
    return body


def refused_then_completes(
    h: Harness, error: str, marker: str, **env: str
) -> Callable[[str, Outcome], None]:
    """A hostile server ends the run with one line; the same run against a sane server
    (the fault switched off) completes."""
    def body(db: str, o: Outcome) -> None:
        code, err = h.run(db, o, **env)
        lines = [line for line in err.splitlines() if line.startswith("error")]
        o.ok = code != 0 and len(lines) == 1 and marker in lines[0] and "Traceback" not in err
        o.result = f"refused in one line ({error}, exit {code}), rerun completed"
        h.sandbox.set_faults(FaultConfig())
        code, err = h.run(db, o)
        o.ok = o.ok and code == 0
    return body


def sigkills(h: Harness, kills: int) -> Callable[[str, Outcome], None]:
    def body(db: str, o: Outcome) -> None:
        rng = random.Random(7)
        for k in range(kills):
            proc = h.start(db, f"kill-{k}")
            o.runs += 1
            target = h.pages(db) + rng.randint(1, 3)
            if h.wait_pages(db, target, proc) and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=600)
        code, err = h.run(db, o)
        o.ok = code == 0
        o.result = f"{kills} SIGKILLs, rerun completed" if code == 0 else err[-200:]
    return body


def restart(h: Harness, mode: str, down: float) -> Callable[[str, Outcome], None]:
    def body(db: str, o: Outcome) -> None:
        proc = h.start(db, "restart")
        o.runs += 1
        h.wait_pages(db, 3, proc)
        h.cluster.restart(mode, down_seconds=down)
        _, err = proc.communicate(timeout=600)
        o.ok = proc.returncode == 0 and "Traceback" not in err
        o.result = "rode it out, completed" if o.ok else f"exit {proc.returncode}: {err[-200:]}"
    return body


def outage(h: Harness) -> Callable[[str, Outcome], None]:
    def body(db: str, o: Outcome) -> None:
        proc = h.start(db, "outage", COURTFLOW_DB_RETRY_SECONDS="3")
        o.runs += 1
        h.wait_pages(db, 3, proc)
        h.cluster.stop("fast")
        try:
            _, err = proc.communicate(timeout=600)
        finally:
            h.cluster.start()
        lines = [line for line in err.splitlines() if line.startswith("error")]
        clean = len(lines) == 1 and "Traceback" not in err and PASSWORD not in err
        code, _ = h.run(db, o)
        o.ok = proc.returncode != 0 and clean and code == 0
        o.result = "one-line error (password masked), rerun completed" if o.ok else err[-300:]
    return body


def dead_cursor(h: Harness) -> Callable[[str, Outcome], None]:
    def body(db: str, o: Outcome) -> None:
        proc = h.start(db, "dead")
        o.runs += 1
        h.wait_pages(db, 2, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=600)
        engine = create_engine(db)
        forget = ("UPDATE sync_checkpoints SET next_url = "
                  "regexp_replace(next_url, 'cursor=[^&]*', 'cursor=ZGVhZA')")  # fmt: skip
        with engine.begin() as conn:  # the server forgot its cursors (e.g. after an upgrade)
            conn.execute(text(forget))
        engine.dispose()
        code, err = h.run(db, o)
        o.ok = code == 0 and "window restarted" in err
        o.result = "window restarted from its start, completed" if o.ok else err[-200:]
    return body


def write_table(outcomes: list[Outcome], path: Path, seconds: float) -> str:
    head = ("| fault tried | runs | rows lost | duplicates | 429s | calls re-spent | "
            "rejected | result |\n|---|---:|---:|---:|---:|---:|---:|---|\n")  # fmt: skip
    rows = "".join(
        f"| {o.name} ({o.faults}) | {o.runs} | {o.rows_lost} | {o.duplicates} | {o.throttled} | "
        f"{o.respent} | {o.rejected} | {'' if o.ok else '**FAILED** '}{o.result} |\n"
        for o in outcomes
    )
    table = head + rows
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Reliability results\n\n"
        f"`make reliability` on this machine: {len(outcomes)} scenarios, "
        f"{sum(o.runs for o in outcomes)} CLI runs, {seconds:.0f} s. Window {SINCE} .. {UNTIL} "
        f"of `{SPEC.name}` ({'reference: '}{{ref}}); target PostgreSQL of its own.\n\n" + table,
        encoding="utf-8",
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--out", default=str(REPO / "reliability" / "RESULTS.md"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    with own_cluster() as cluster, start_sandbox(SandboxConfig(latency_ms=40)) as sandbox:
        h = Harness(cluster, sandbox)
        ref_db = h.database()
        before = sandbox.stats()["admitted"]
        ref = Outcome("reference", "none")
        code, err = h.run(ref_db, ref)
        if code != 0:
            print(err, file=sys.stderr)
            return 1
        h.reference_calls = sandbox.stats()["admitted"] - before
        h.reference_ids = set(h.ids(ref_db)[0])
        ids = sorted(h.reference_ids)
        broken = {ids[10], ids[-3]}
        scenarios = [
            ("server errors", "5% each of 500/502/503, resets, truncated, invalid JSON",
             completes(h), FaultConfig(seed=3, p_500=0.05, p_502=0.05, p_503=0.05,
                                       p_reset=0.05, p_truncated=0.05, p_invalid_json=0.05),
             None),
            ("429 bursts", "20% bursts of 3 x 429, Retry-After 1 s", completes(h),
             FaultConfig(seed=4, p_429_burst=0.2, burst_retry_after=1), None),
            ("SIGKILL", "5 kills at random pages", sigkills(h, 5), None, None),
            ("target restart", "pg_ctl restart -m fast, 1.5 s down", restart(h, "fast", 1.5),
             None, None),
            ("target crash", "pg_ctl restart -m immediate, 1.5 s down",
             restart(h, "immediate", 1.5), None, None),
            ("target outage", "stopped beyond COURTFLOW_DB_RETRY_SECONDS=3", outage(h), None,
             None),
            ("poison records", "NUL, 2**70, impossible dates in 3 records; 2 unparsable",
             completes(h), FaultConfig(poison_ids=tuple(ids[3:6]), broken_ids=tuple(broken)),
             broken),
            ("cursor loop", "every 'next' two pages back (cycle of 3)",
             refused_then_completes(h, "CursorLoopError", "leads back"),
             FaultConfig(p_cycle=1.0, cycle_length=3), None),
            ("trickled body", "body over 6 s, COURTFLOW_REQUEST_DEADLINE=2",
             refused_then_completes(h, "DeadlineExceededError", "COURTFLOW_REQUEST_DEADLINE",
                                    COURTFLOW_REQUEST_DEADLINE="2",
                                    COURTFLOW_MAX_ATTEMPTS="2"),
             FaultConfig(p_trickle=1.0, trickle_seconds=6.0), None),
            ("huge body", "3 MB bodies, COURTFLOW_MAX_BODY_BYTES=1000000",
             refused_then_completes(h, "BodyTooLargeError", "COURTFLOW_MAX_BODY_BYTES",
                                    COURTFLOW_MAX_BODY_BYTES="1000000"),
             FaultConfig(p_huge=1.0, huge_bytes=3_000_000), None),
            ("dead saved cursor", "checkpoint cursor no longer accepted (404)",
             dead_cursor(h), None, None),
        ]
        outcomes = [
            h.scenario(name, faults, body, config, lost)
            for name, faults, body, config, lost in scenarios
        ]
    path = Path(args.out)
    seconds = time.monotonic() - started
    table = write_table(outcomes, path, seconds)
    text_ = path.read_text().replace(
        "{ref}", f"{len(h.reference_ids)} rows, {h.reference_calls} calls"
    )
    path.write_text(text_)
    print(table)
    print(f"written to {path}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
