"""Upsert throughput on PostgreSQL: courtflow's batched upsert vs one statement per row.

    .venv/bin/python -m benchmarks.upsert_bench [--rows 20000] [--page-size 20 500]

Side by side, on the same synthetic dockets (API shape, Pacific-time timestamps):

(a) courtflow ``upsert_rows``, one transaction per page (as sync.py does): the
    statement path (one jsonb_to_recordset upsert per page; "rerun" loads the same
    pages again, a no-op) and the COPY + merge path;
(b) the reference design: one ``INSERT ... ON CONFLICT`` per record, committed per
    record as ``PostgresHook.run`` does, on a connection opened once;
(b2) the same per-row statements with one commit per page (isolates statement count);
(c) raw COPY of the same rows into a plain table: the floor for loading at all;
(b0) for context, per-row with a new connection per record, as the reference's
    ``PostgresHook.run`` actually does (on a short sample).

Every variant except (c) includes converting API records into rows. The database is
COURTFLOW_BENCH_PG_URL, or a fresh one created on 127.0.0.1:5432 and dropped after.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool

from benchmarks.budget_support import scratch_pg
from courtflow.catalogue.resources import RESOURCES
from courtflow.store.convert import convert_record, to_row
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table
from courtflow.store.upsert import Method, upsert_rows

SPEC = RESOURCES["dockets"]
TABLE = resource_table(SPEC)
PACIFIC = timezone(timedelta(hours=-8))
BASE = "https://www.courtlistener.com/api/rest/v4"
T0 = datetime(2025, 1, 6, tzinfo=UTC)


def docket(key: int, version: int, rng: random.Random) -> dict[str, Any]:
    """A docket shaped like the v4 API's (about 1.5 kB of JSON)."""
    modified = (T0 + timedelta(seconds=key * 3 + version * 86400)).astimezone(PACIFIC)
    name = f"{rng.choice(['Smith', 'Jones', 'Garcia', 'Lee'])} v. {rng.choice(['Acme', 'US'])}"
    return {
        "resource_uri": f"{BASE}/dockets/{key}/",
        "id": key,
        "court": f"{BASE}/courts/ca9/",
        "court_id": "ca9",
        "original_court_info": None,
        "idb_data": None,
        "clusters": [f"{BASE}/clusters/{key * 2}/"],
        "audio_files": [],
        "assigned_to": f"{BASE}/people/{rng.randint(1, 4000)}/",
        "referred_to": None,
        "absolute_url": f"/docket/{key}/{name.lower().replace(' ', '-')}/",
        "date_created": (T0 - timedelta(days=30)).astimezone(PACIFIC).isoformat(),
        "date_modified": modified.isoformat(),
        "source": rng.choice([0, 1, 2, 4]),
        "appeal_from_str": "",
        "assigned_to_str": "Hon. Jane Q. Judge",
        "referred_to_str": "",
        "panel_str": "",
        "date_last_index": None,
        "date_cert_granted": None,
        "date_cert_denied": None,
        "date_argued": None,
        "date_reargued": None,
        "date_reargument_denied": None,
        "date_filed": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "date_terminated": None,
        "date_last_filing": None,
        "case_name_short": name.split(" v. ")[0],
        "case_name": name,
        "case_name_full": f"{name}, individually and on behalf of all others (version {version})",
        "slug": name.lower().replace(" ", "-").replace(".", ""),
        "docket_number": f"2:24-cv-{key:05d}",
        "docket_number_core": f"24{key:05d}",
        "pacer_case_id": str(100000 + key),
        "cause": "28:1331 Federal Question",
        "nature_of_suit": "Civil Rights: Other",
        "jury_demand": "Plaintiff",
        "jurisdiction_type": "Federal question",
        "appellate_fee_status": "",
        "appellate_case_type_information": "",
        "mdl_status": "",
        "filepath_ia": "",
        "filepath_ia_json": "",
        "ia_upload_failure_count": None,
        "ia_needs_upload": None,
        "ia_date_first_change": None,
        "date_blocked": None,
        "blocked": False,
        "appeal_from": None,
        "tags": [],
        "panel": [],
    }


@dataclass(frozen=True)
class Result:
    variant: str
    page_size: int | None
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def pages_of(records: Sequence[dict[str, Any]], size: int) -> list[Sequence[dict[str, Any]]]:
    return [records[i:i + size] for i in range(0, len(records), size)]


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLE.name}"))


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_courtflow(engine: Engine, records: Sequence[dict[str, Any]], page: int,
                  method: Method) -> float:
    def load() -> None:
        for batch in pages_of(records, page):
            with engine.begin() as conn:
                upsert_rows(conn, SPEC, batch, "bench", method=method)
    return timed(load)


def per_row_statement() -> Any:
    stmt = postgresql.insert(TABLE)
    return stmt.on_conflict_do_update(
        index_elements=[TABLE.c.id],
        set_={c.name: stmt.excluded[c.name] for c in TABLE.columns if c.name != "id"},
    )


def run_per_row(engine: Engine, records: Sequence[dict[str, Any]], commit_every: int) -> float:
    stmt = per_row_statement()

    def load() -> None:
        with engine.connect() as conn:
            for i, record in enumerate(records, 1):
                conn.execute(stmt, to_row(SPEC, record, "bench", datetime.now(UTC)))
                if i % commit_every == 0:
                    conn.commit()
            conn.commit()
    return timed(load)


def run_per_row_new_connection(url: str, records: Sequence[dict[str, Any]]) -> float:
    """What ``PostgresHook.run`` really does per record: connect, execute, commit, close."""
    engine = create_engine(url, poolclass=NullPool)
    stmt = per_row_statement()

    def load() -> None:
        for record in records:
            with engine.begin() as conn:
                conn.execute(stmt, to_row(SPEC, record, "bench", datetime.now(UTC)))
    try:
        return timed(load)
    finally:
        engine.dispose()


def run_raw_copy(engine: Engine, records: Sequence[dict[str, Any]]) -> float:
    loaded = datetime.now(UTC)
    items = [convert_record(SPEC, r, "bench", loaded) for r in records]
    names = [c.name for c in TABLE.columns]
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_copy_plain"))
        conn.execute(text(f"CREATE TABLE bench_copy_plain (LIKE {TABLE.name})"))

    def load() -> None:
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY bench_copy_plain ({', '.join(names)}) FROM STDIN") as cp:
                for item in items:
                    cp.write_row([item.data_json if n == "data" else item.row[n] for n in names])
    seconds = timed(load)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_copy_plain"))
    return seconds


@contextmanager
def bench_database() -> Iterator[str]:
    given = os.environ.get("COURTFLOW_BENCH_PG_URL")
    if given:
        yield given
        return
    with scratch_pg("courtflow_bench") as url:
        yield url


def measure(engine: Engine, url: str, args: argparse.Namespace) -> list[Result]:
    rng = random.Random(42)
    records = [docket(k, 0, rng) for k in range(1, args.rows + 1)]
    newer = [docket(k, 1, rng) for k in range(1, args.rows + 1)]
    per_row = records[: args.per_row_rows]
    results: list[Result] = []

    # The baseline runs in two halves, first and last, so that load from other
    # processes during the run weighs on it as on the rest.
    half = len(per_row) // 2
    truncate(engine)
    baseline = run_per_row(engine, per_row[:half], commit_every=1)
    for page in args.page_size:
        truncate(engine)
        results.append(Result("(b2) per-row upsert, commit per page", page, len(per_row),
                              run_per_row(engine, per_row, commit_every=page)))
    for page in args.page_size:
        truncate(engine)
        for phase, batch in (("insert", records), ("update", newer), ("rerun", newer)):
            results.append(Result(f"(a) courtflow statement: {phase}", page, len(batch),
                                  run_courtflow(engine, batch, page, "statement")))
        truncate(engine)
        # COPY+merge pays a COPY round trip per page: at small pages it only loses,
        # so it runs on the short sample there.
        sample = records if page >= 100 else per_row
        results.append(Result("(a) courtflow COPY+merge: insert", page, len(sample),
                              run_courtflow(engine, sample, page, "copy")))
        if page >= 100:
            results.append(Result("(a) courtflow COPY+merge: update", page, len(newer),
                                  run_courtflow(engine, newer, page, "copy")))
    results.append(Result("(c) raw COPY, plain table, 1 tx", None, len(records),
                          run_raw_copy(engine, records)))
    truncate(engine)
    baseline += run_per_row(engine, per_row[half:], commit_every=1)
    results.insert(0, Result("(b) per-row upsert, commit per row", None, len(per_row), baseline))
    truncate(engine)
    sample = per_row[: max(1, len(per_row) // 10)]
    results.append(Result("(b0) per-row, new connection per row", None, len(sample),
                          run_per_row_new_connection(url, sample)))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--page-size", type=int, nargs="+", default=[20, 500])
    parser.add_argument("--per-row-rows", type=int, default=2000,
                        help="rows for the slow variants (rates are per row)")
    args = parser.parse_args(argv)
    with bench_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            sync = conn.execute(text("SHOW synchronous_commit")).scalar()
        started = time.perf_counter()
        results = measure(engine, url, args)
        engine.dispose()
    baseline = results[0].rate
    print(f"PostgreSQL {version}, synchronous_commit={sync}; {args.rows} dockets; "
          f"total {time.perf_counter() - started:.1f} s")
    print(f"{'variant':<42} {'page':>5} {'rows':>7} {'s':>7} {'rows/s':>9} {'vs (b)':>7}")
    for r in results:
        page = "-" if r.page_size is None else str(r.page_size)
        print(f"{r.variant:<42} {page:>5} {r.rows:>7} {r.seconds:>7.2f} {r.rate:>9.0f} "
              f"{r.rate / baseline:>6.1f}x")


if __name__ == "__main__":
    main()
