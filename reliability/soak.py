"""Soak: hundreds of cron-style catch-up runs against a sandbox that keeps changing.

The sandbox (its own process) streams edits, inserts and deletions into several
resources the whole time (``POST /__sandbox__/mutate``). Every ``--interval`` seconds one
``courtflow sync --resource R --book-next ... --retention ...`` starts as its own process
(the resources in turn; as cron does, without waiting for the run before, but a
resource's runs never overlap), reading from the scope's watermark less a lookback, as a
catch-up run does; every ``--audit-every`` runs each resource is audited with
``courtflow audit --repair``. At the end the mutations stop, one last catch-up and audit
run per resource, and the mirror is compared with the sandbox's own records
(``GET /__sandbox__/records/R``): live rows equal (ids, date_modified and record), every
deleted record marked, no duplicate. Ledger and checkpoint rows are sampled as it goes;
each process's peak memory (ru_maxrss from wait4) is recorded.

    python -m reliability.soak --runs 300 --interval 3 --out reliability/SOAK.md
    python -m reliability.soak --runs 20 --interval 1      # a short one while developing

Loopback only; bounded (every process has a timeout; the sandbox and the mutator stop
with the driver). PostgreSQL when reachable at 127.0.0.1:5432, else ``--db sqlite``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from courtflow.budget.tables import api_call_ledger  # noqa: E402
from courtflow.catalogue.resources import get_resource  # noqa: E402
from courtflow.sandbox import DEMO_TOKEN  # noqa: E402
from courtflow.sandbox.process import sandbox_process  # noqa: E402
from courtflow.store.convert import parse_timestamp  # noqa: E402
from courtflow.store.state import get_watermark  # noqa: E402
from courtflow.store.tables import resource_table, sync_checkpoints  # noqa: E402

RESOURCES = ("dockets", "clusters", "opinions", "people")
RATES = "3000/60s"
PROCESS_TIMEOUT = 300.0


@dataclass
class Tally:
    edited: int = 0
    inserted: int = 0
    deleted: set[tuple[str, int]] = field(default_factory=set)
    requests: int = 0
    errors: int = 0


@dataclass
class Proc:
    kind: str
    resource: str
    rc: int
    seconds: float
    maxrss_kb: int
    out: str
    err: str


@contextmanager
def sandbox(volume: int) -> Iterator[str]:
    """The sandbox in its own process; its URL."""
    args = ["--rates", RATES,
            "--api-usage-rates", "1000/min,100000/hour",  # one read per run, 300+ runs
            "--seed", "11", *(f"--volume={r}={volume}" for r in RESOURCES)]  # fmt: skip
    with sandbox_process(args) as url:
        yield url


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="courtflow-soak-") as folder:
            yield f"sqlite:///{folder}/soak.db"
        return
    from pg_support import scratch_database

    with scratch_database("courtflow_soak") as url:
        yield url


def run(kind: str, resource: str, args: list[str], env: dict[str, str]) -> Proc:
    """One courtflow process; its exit code, time and peak memory (wait4's ru_maxrss)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "courtflow.cli", *args], env=env,
                                stdout=out, stderr=err, text=True)  # fmt: skip
        deadline = started + PROCESS_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(kind, resource, proc.returncode, time.monotonic() - started,
                    int(usage.ru_maxrss), out.read(), err.read())  # fmt: skip


def mutator(base: str, stop: threading.Event, tally: Tally, every: float, seed: int) -> None:
    """Edits, inserts and deletions, one resource after another, until stopped."""
    origin = base.split("/api/", 1)[0]
    rng = random.Random(seed)
    with httpx.Client(headers={"Authorization": f"Token {DEMO_TOKEN}"}, timeout=30) as client:
        i = 0
        while not stop.wait(every):
            resource = RESOURCES[i % len(RESOURCES)]
            body = {"resource": resource, "edit": rng.randint(0, 3), "insert": rng.randint(0, 2),
                    "delete": rng.randint(0, 1), "seed": rng.randrange(1 << 30)}  # fmt: skip
            try:
                answer = client.post(f"{origin}/__sandbox__/mutate", json=body)
                answer.raise_for_status()
                done = answer.json()
                tally.edited += len(done["edited"])
                tally.inserted += len(done["inserted"])
                tally.deleted.update((resource, k) for k in done["deleted"])
                tally.requests += 1
            except httpx.HTTPError:
                tally.errors += 1
            i += 1


def sample(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "ledger": int(conn.execute(select(func.count()).select_from(api_call_ledger))
                              .scalar_one()),
                "checkpoints": int(conn.execute(select(func.count())
                                                .select_from(sync_checkpoints)).scalar_one()),
            }  # fmt: skip
    finally:
        engine.dispose()


def catch_up_since(url: str, resource: str, lookback: timedelta) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            mark = get_watermark(conn, resource)
    finally:
        engine.dispose()
    start = (mark - lookback) if mark else datetime(1900, 1, 1, tzinfo=UTC)
    return start.isoformat()


def compare(url: str, base: str, tally: Tally) -> dict[str, dict[str, int]]:
    """The mirror against the sandbox's own records, per resource."""
    origin = base.split("/api/", 1)[0]
    engine = create_engine(url)
    out: dict[str, dict[str, int]] = {}
    with httpx.Client(headers={"Authorization": f"Token {DEMO_TOKEN}"}, timeout=120) as client:
        for resource in RESOURCES:
            answer = client.get(f"{origin}/__sandbox__/records/{resource}")
            answer.raise_for_status()
            spec = get_resource(resource)
            # What a sync stores: the record less the heavy fields it omits by default.
            server = {r["id"]: {k: v for k, v in r.items() if k not in spec.default_omit}
                      for r in answer.json()["records"]}  # fmt: skip
            table = resource_table(spec)
            with engine.connect() as conn:
                rows = conn.execute(
                    select(table.c.id, table.c.date_modified, table.c.data, table.c.deleted_at)
                ).all()
                distinct = conn.execute(select(func.count(func.distinct(table.c.id)))
                                        .select_from(table)).scalar_one()  # fmt: skip
            live = {r.id: r for r in rows if r.deleted_at is None}
            marked = {r.id for r in rows if r.deleted_at is not None}
            gone = {k for (res, k) in tally.deleted if res == resource}
            stale = sum(
                1 for k, r in live.items() if k in server and (
                    r.date_modified != parse_timestamp(server[k]["date_modified"])
                    or json.loads(json.dumps(r.data)) != server[k])
            )  # fmt: skip
            out[resource] = {
                "server_live": len(server),
                "mirror_live": len(live),
                "missing": len(set(server) - set(live)),
                "extra_live": len(set(live) - set(server)),
                "stale": stale,
                "marked_deleted": len(marked),
                "marked_not_deleted": len(marked - gone),
                "duplicates": len(rows) - int(distinct),
                "deleted_on_server": len(gone),
            }
    engine.dispose()
    return out


def _calls(p: Proc) -> int:
    """API calls one process reported on its last stdout line."""
    try:
        line = json.loads(p.out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return 0
    if p.kind == "sync":
        return int(line.get("api_calls", 0))
    return int(line["count_calls"]) + sum(int(r["calls"]) for r in line["repaired"])


def _median(values: list[int]) -> float:
    return float(statistics.median(values)) if values else 0.0


def report(args: argparse.Namespace, procs: list[Proc], samples: list[dict[str, int]],
           tally: Tally, result: dict[str, dict[str, int]], seconds: float,
           calls: int, db: str) -> str:  # fmt: skip
    syncs = [p for p in procs if p.kind == "sync"]
    audits = [p for p in procs if p.kind == "audit"]
    repaired = [json.loads(p.out.strip().splitlines()[-1]) for p in audits if p.out.strip()]
    drifted = sum(r["drifted"] for r in repaired)
    marked = sum(x["deleted"] for r in repaired for x in r["repaired"])
    moved = sum(x["moved"] for r in repaired for x in r["repaired"])
    k = max(1, min(50, len(syncs) // 3))
    first, last = [p.maxrss_kb for p in syncs[:k]], [p.maxrss_kb for p in syncs[-k:]]
    afirst = [p.maxrss_kb for p in audits[: len(RESOURCES)]]
    alast = [p.maxrss_kb for p in audits[-len(RESOURCES):]]
    equal = all(r["missing"] == r["extra_live"] == r["stale"] == r["marked_not_deleted"]
                == r["duplicates"] == 0 for r in result.values())  # fmt: skip
    steady = samples[len(samples) // 2:] or samples
    lines = [
        f"Soak of {datetime.now(UTC).date()} ({db}, sandbox volume {args.volume} per resource, "
        f"resources {', '.join(RESOURCES)}; `python -m reliability.soak --runs {args.runs} "
        f"--interval {args.interval} --audit-every {args.audit_every}`):",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| catch-up runs (`sync --book-next`, the last per resource included), failed | "
        f"{len(syncs)}, "
        f"{sum(1 for p in syncs if p.rc != 0)} |",
        f"| audits (`audit --repair`), failed | {len(audits)}, "
        f"{sum(1 for p in audits if p.rc != 0)} |",
        f"| wall time | {seconds / 60:.1f} min |",
        f"| server mutations: edits, inserts, deletions | {tally.edited}, {tally.inserted}, "
        f"{len(tally.deleted)} |",
        f"| API calls (runs and audits, as they report them) | {calls} |",
        f"| drifted windows found by audits; rows marked deleted; edited rows refetched | "
        f"{drifted}; {marked}; {moved} |",
        "| live rows, sandbox = mirror | " + ", ".join(
            f"{r}: {v['server_live']} = {v['mirror_live']}" for r, v in result.items()) + " |",
        "| missing, extra, stale, duplicate rows | " + ", ".join(
            f"{v['missing']}/{v['extra_live']}/{v['stale']}/{v['duplicates']}"
            for v in result.values()) + " |",
        "| rows marked deleted (all deleted on the server) | " + ", ".join(
            f"{r}: {v['marked_deleted']} ({v['marked_not_deleted']} wrongly)"
            for r, v in result.items()) + " |",
        f"| mirror equals sandbox | {'yes' if equal else 'NO'} |",
        f"| ledger rows: min / max over the second half | "
        f"{min(s['ledger'] for s in steady)} / {max(s['ledger'] for s in steady)} |",
        f"| checkpoint rows: first sample / last / max | {samples[0]['checkpoints']} / "
        f"{samples[-1]['checkpoints']} / {max(s['checkpoints'] for s in samples)} |",
        f"| sync peak RSS: median of first {k} / last {k} runs, max | "
        f"{_median(first) / 1024:.1f} / {_median(last) / 1024:.1f} MiB, "
        f"{max(p.maxrss_kb for p in syncs) / 1024:.1f} MiB |",
        f"| audit peak RSS: median of first / last round | "
        f"{_median(afirst) / 1024:.1f} / {_median(alast) / 1024:.1f} MiB |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="catch-up runs (default 300)")
    parser.add_argument("--interval", type=float, default=3.0,
                        help="seconds from one run's start to the next (default 3)")
    parser.add_argument("--audit-every", type=int, default=50, help="runs between audits")
    parser.add_argument("--mutate-every", type=float, default=1.0,
                        help="seconds between two mutation requests (default 1)")
    parser.add_argument("--volume", type=int, default=1500, help="records per resource")
    parser.add_argument("--lookback", type=float, default=30.0,
                        help="seconds each run re-reads before the watermark (default 30)")
    parser.add_argument("--retention", default="60s", help="--retention of each run")
    parser.add_argument("--deadline", type=float, default=0.0,
                        help="minutes after which no new run starts and the soak ends "
                        "(0: none); the report says how many runs were made")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--out", type=Path, help="write the figures table here (markdown)")
    args = parser.parse_args(argv)
    tally = Tally()
    procs: list[Proc] = []
    samples: list[dict[str, int]] = []
    stop = threading.Event()
    started = time.monotonic()
    lookback = timedelta(seconds=args.lookback)
    stopped_at: list[int] = []
    with sandbox(args.volume) as base, database(args.db) as url:
        from courtflow.store.engine import make_engine
        from courtflow.store.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)  # the driver reads watermarks before the first run
        engine.dispose()
        env = {**os.environ, "COURTLISTENER_API_BASE_URL": base,
               "COURTLISTENER_API_TOKEN": DEMO_TOKEN, "COURTFLOW_DATABASE_URL": url,
               "COURTFLOW_RATES": RATES,
               # The sandbox commits each edit at once: no late commit to wait for, so the
               # end of the run can compare the mirror with the server's latest state.
               "COURTFLOW_SETTLE_LAG": "1s"}  # fmt: skip
        first_load = dict.fromkeys(RESOURCES, True)

        def sync(resource: str, extra: tuple[str, ...] = ()) -> Proc:
            # A cron line: the first load from the start of time, then catch-up runs with
            # no --since (the watermark less --lookback, up to the server's clock less the
            # settle lag).
            window = (["--since", catch_up_since(url, resource, lookback)]
                      if first_load[resource] else ["--lookback", f"{args.lookback:g}s"])
            first_load[resource] = False
            p = run("sync", resource, ["sync", "--resource", resource, *window, "-q",
                                       *extra], env)  # fmt: skip
            procs.append(p)
            if p.rc != 0:
                print(f"sync {resource} failed ({p.rc}): {p.err.strip()[-400:]}", flush=True)
            return p

        def audit_one(resource: str) -> Proc:
            return run("audit", resource, ["audit", "--resource", resource, "--repair", "-q"],
                       env)

        def audit_all() -> None:
            # The resources' audits at once (each one process, as cron would start them).
            with ThreadPoolExecutor(len(RESOURCES)) as audits:
                for p in audits.map(audit_one, RESOURCES):
                    procs.append(p)
                    line = p.out.strip().splitlines()[-1:]
                    print(f"  audit {p.resource}: rc {p.rc} {p.seconds:.0f} s "
                          f"{line[0][:160] if line else ''}"
                          f"{p.err.strip()[-300:] if p.rc else ''}", flush=True)
            samples.append(sample(url))

        for resource in RESOURCES:  # the first load
            sync(resource)
        procs.clear()
        thread = threading.Thread(target=mutator, args=(base, stop, tally, args.mutate_every, 5),
                                  daemon=True)  # fmt: skip
        thread.start()
        every = f"{max(1, round(args.interval * len(RESOURCES)))}s"  # each resource's period
        scheduled = ("--book-next", every, "--retention", args.retention)
        # Cron starts a run every --interval seconds without waiting for the one before
        # (resources in turn); a resource's runs never overlap (as with flock).
        pool = ThreadPoolExecutor(len(RESOURCES), thread_name_prefix="soak-run")
        pending: dict[str, Future[Proc]] = {}
        try:
            for i in range(args.runs):
                tick = time.monotonic()
                if args.deadline and tick - started > args.deadline * 60:
                    print(f"deadline: stopping after {i} runs", flush=True)
                    stopped_at.append(i)
                    break
                resource = RESOURCES[i % len(RESOURCES)]
                if resource in pending:
                    pending.pop(resource).result()
                pending[resource] = pool.submit(sync, resource, scheduled)
                if (i + 1) % 10 == 0:
                    samples.append(sample(url))
                if (i + 1) % args.audit_every == 0:
                    for future in pending.values():
                        future.result()
                    pending.clear()
                    print(f"run {i + 1}/{args.runs} ({time.monotonic() - started:.0f} s): "
                          "audit", flush=True)  # fmt: skip
                    audit_all()
                time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
            for future in pending.values():
                future.result()
        finally:
            stop.set()
            thread.join(timeout=30)
            pool.shutdown(wait=True)
        time.sleep(1.0)
        for resource in RESOURCES:  # the last catch-up, then the last audit
            sync(resource, scheduled)
        audit_all()
        result = compare(url, base, tally)
        calls = sum(_calls(p) for p in procs)
        table = report(args, procs, samples, tally, result, time.monotonic() - started, calls,
                       args.db)
    print(table)
    print(json.dumps(result))
    if args.out:
        args.out.write_text(table)
    ok = all(v["missing"] == v["extra_live"] == v["stale"] == v["marked_not_deleted"]
             == v["duplicates"] == 0 for v in result.values())  # fmt: skip
    return 0 if ok and not any(p.rc for p in procs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
