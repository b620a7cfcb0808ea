"""``python -m courtflow.airflow.setup``: the API pool and a connection the form shows whole.

Deployment set-up, run once per Airflow installation (never from task code, which may
not touch the metadata database in Airflow 3). It drives the ``airflow pools`` CLI of
the same environment, so it works with any metadata database Airflow is configured for.

    python -m courtflow.airflow.setup --pool-slots 4     # create or update
    python -m courtflow.airflow.setup --check            # exit 1 if missing or different

It also completes the ``courtlistener_default`` connection (``--connection`` names
another): every extra field the connection leaves out is stored as ``null``. Airflow
3's connection form lists only the extra fields present in a connection's JSON, so a
connection made with ``airflow connections add --conn-extra '{"rates": ...}'`` would
show one or two of its fields and hide the rest; ``null`` means "the default", exactly
as a missing key does.

The pool limits how many sync tasks call CourtListener *at once* (concurrency); the
call budget limits how many calls are made *per window of time* (rate). A pool cannot
enforce a rate, and the budget does not cap concurrency: both are needed. Deferred
tasks do not hold a slot (``include_deferred`` stays off), so a task waiting for the
budget in the triggerer leaves its slot to a task that can call now.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from courtflow.airflow.dag_config import API_POOL
from courtflow.airflow.hooks import CONN_TYPE, DEFAULT_CONN_ID
from courtflow.airflow.provider import CONN_FIELDS

DEFAULT_SLOTS = 4
DESCRIPTION = "CourtListener API concurrency (the call budget limits the rate)"


@dataclass(frozen=True)
class PoolState:
    name: str
    slots: int
    include_deferred: bool
    description: str


class SetupError(Exception):
    """The airflow CLI failed; the message carries its last output lines."""


def _airflow(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _parse(output: str) -> PoolState | None:
    """The pool in ``airflow pools ... -o json`` output (its last JSON line)."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("["):
            rows: list[dict[str, Any]] = json.loads(line)
            if rows:
                row = rows[0]
                return PoolState(
                    name=str(row["pool"]),
                    slots=int(row["slots"]),
                    include_deferred=str(row.get("include_deferred")).lower() == "true",
                    description=str(row.get("description") or ""),
                )
    return None


def get_pool(name: str = API_POOL, *, timeout: float = 120.0) -> PoolState | None:
    """The pool as Airflow has it, or None when it does not exist."""
    done = _airflow(["pools", "get", name, "-o", "json"], timeout)
    if done.returncode != 0:
        if "does not exist" in (done.stdout + done.stderr).lower():
            return None
        raise SetupError(_tail(done))
    return _parse(done.stdout)


def set_pool(
    name: str = API_POOL, slots: int = DEFAULT_SLOTS, *, timeout: float = 120.0
) -> PoolState:
    """Create or update the pool (idempotent). ``include_deferred`` is left off."""
    if slots < 1:
        raise SetupError("the pool needs at least one slot")
    done = _airflow(["pools", "set", name, str(slots), DESCRIPTION], timeout)
    if done.returncode != 0:
        raise SetupError(_tail(done))
    return PoolState(name=name, slots=slots, include_deferred=False, description=DESCRIPTION)


def complete_connection(conn_id: str = DEFAULT_CONN_ID) -> tuple[str, ...] | None:
    """Store every extra field the connection lacks as ``null``; the keys added.

    None when the metadata database has no such connection (one defined in the
    environment or a secrets backend is not edited in the UI, so there is nothing to do).
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if conn is None:
            return None
        if conn.conn_type != CONN_TYPE:
            raise SetupError(
                f"connection {conn_id!r} is of type {conn.conn_type!r}, not {CONN_TYPE!r}"
            )
        try:
            extra = json.loads(conn.extra) if conn.extra else {}
        except ValueError:
            raise SetupError(f"connection {conn_id!r} has an extra that is not JSON") from None
        if not isinstance(extra, dict):
            raise SetupError(f"connection {conn_id!r} has an extra that is not a JSON object")
        added = tuple(key for key in CONN_FIELDS if key not in extra)
        if added:
            conn.set_extra(json.dumps({**extra, **dict.fromkeys(added)}))
    return added


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return f"`airflow {' '.join(done.args[3:])}` exited {done.returncode}:\n" + "\n".join(
        lines[-15:]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m courtflow.airflow.setup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pool", default=API_POOL, help=f"pool name (default {API_POOL})")
    parser.add_argument("--pool-slots", type=int, default=DEFAULT_SLOTS,
                        help=f"concurrent API tasks (default {DEFAULT_SLOTS})")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="only check that the pool exists with these slots")  # fmt: skip
    parser.add_argument("--connection", default=DEFAULT_CONN_ID, metavar="CONN_ID",
                        help="connection whose missing extra fields are stored as null, so "
                        f"Airflow's form shows them all (default {DEFAULT_CONN_ID})")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.check:
            state = get_pool(args.pool)
            if state is None:
                print(f"pool {args.pool} is missing: run python -m courtflow.airflow.setup")
                return 1
            if state.slots != args.pool_slots:
                print(f"pool {args.pool} has {state.slots} slots, expected {args.pool_slots}")
                return 1
        else:
            state = set_pool(args.pool, args.pool_slots)
            added = complete_connection(args.connection)
    except (SetupError, subprocess.TimeoutExpired) as exc:
        print(f"courtflow setup failed: {exc}", file=sys.stderr)
        return 2
    print(f"pool {state.name}: {state.slots} slots (include_deferred={state.include_deferred})")
    if not args.check:
        print(_connection_line(args.connection, added))
    return 0


def _connection_line(conn_id: str, added: tuple[str, ...] | None) -> str:
    if added is None:
        return (f"connection {conn_id}: not in the metadata database (environment or "
                "secrets backend), nothing to complete")  # fmt: skip
    if not added:
        return f"connection {conn_id}: every extra field is present"
    return (f"connection {conn_id}: added empty fields {', '.join(added)} "
            "(so Airflow's connection form shows them all)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
