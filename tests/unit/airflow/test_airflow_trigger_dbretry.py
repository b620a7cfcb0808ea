"""The budget trigger's and sensor's database reads ride out a transient failure."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from courtflow.airflow.triggers import seconds_until_room
from courtflow.budget import ledger
from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.retry import DbRetryPolicy


def test_seconds_until_room_retries_a_database_that_is_briefly_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    upgrade(engine)
    slept: list[float] = []
    budget = Budget(engine, "k", parse_rates("5/min"), sleep=slept.append,
                    db_retry=DbRetryPolicy(seconds=30, initial=0.01))  # fmt: skip
    real = ledger.db_now
    failures = [2]

    def flaky(conn: Any) -> Any:
        if failures[0] > 0:
            failures[0] -= 1
            raise OperationalError("SELECT now", {}, sqlite3.OperationalError("database is locked"))
        return real(conn)

    monkeypatch.setattr(ledger, "db_now", flaky)
    with caplog.at_level("WARNING", logger="courtflow.store.retry"):
        assert seconds_until_room(budget) <= 0
    assert failures == [0]
    assert caplog.text.count("transient database error during budget clock") == 2
