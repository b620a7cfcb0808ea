"""Transient database errors: which ones, how long they are retried, how an outage ends."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from courtflow.errors import DatabaseUnavailableError
from courtflow.store.retry import DbRetryPolicy, is_transient_db_error, run_with_db_retry

ENGINE = create_engine("postgresql+psycopg://courtflow:s3cret-pw@db.example:5432/target")


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}\nDETAIL: more")
        self.sqlstate = sqlstate


def wrapped(sqlstate: str, cls: type[DBAPIError] = OperationalError) -> DBAPIError:
    return cls("SELECT 1", {}, _PgError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["40001", "40P01", "57P01", "57P02", "57P03", "08006"])
def test_serialisation_deadlock_shutdown_and_connection_errors_are_transient(
    sqlstate: str,
) -> None:
    assert is_transient_db_error(wrapped(sqlstate))


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", "22003"])
def test_constraint_schema_and_data_errors_are_not_transient(sqlstate: str) -> None:
    assert not is_transient_db_error(wrapped(sqlstate, IntegrityError))
    assert not is_transient_db_error(wrapped(sqlstate, ProgrammingError))


def test_an_invalidated_connection_and_a_refused_connect_are_transient() -> None:
    lost = DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert is_transient_db_error(lost)
    assert is_transient_db_error(OperationalError("connect", {}, psycopg.OperationalError("x")))


def test_sqlite_busy_is_transient_but_a_missing_table_is_not() -> None:
    busy = sqlite3.OperationalError("database is locked")
    assert is_transient_db_error(OperationalError("INSERT", {}, busy))
    missing = sqlite3.OperationalError("no such table: x")
    assert not is_transient_db_error(OperationalError("SELECT", {}, missing))


def test_a_transient_error_is_retried_until_the_work_succeeds() -> None:
    failures = [wrapped("57P01"), wrapped("40001")]
    slept: list[float] = []

    def work() -> str:
        if failures:
            raise failures.pop(0)
        return "committed"

    result = run_with_db_retry(ENGINE, work, DbRetryPolicy(seconds=60), sleep=slept.append)
    assert result == "committed"
    assert not failures and len(slept) == 2 and all(0 < s <= 5 for s in slept)


def test_a_long_outage_ends_with_one_line_naming_the_database_password_masked() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def work() -> None:
        raise wrapped("57P03")

    with pytest.raises(DatabaseUnavailableError) as info:
        run_with_db_retry(ENGINE, work, DbRetryPolicy(seconds=30), what="page commit",
                          sleep=sleep, clock=lambda: now[0])  # fmt: skip
    message = str(info.value)
    assert "\n" not in message and "s3cret-pw" not in message
    assert "postgresql+psycopg://courtflow:***@db.example:5432/target" in message
    assert "page commit" in message and now[0] <= 30


def test_a_permanent_error_is_raised_at_once() -> None:
    calls = []

    def work() -> None:
        calls.append(1)
        raise wrapped("23505", IntegrityError)

    with pytest.raises(IntegrityError):
        run_with_db_retry(ENGINE, work, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_lost_connection_during_a_page_is_never_taken_for_a_poison_record() -> None:
    from sqlalchemy.exc import DataError

    from courtflow.store.rejects import is_record_error

    assert not is_record_error(wrapped("57P01"))  # server shutting down mid-statement
    assert not is_record_error(wrapped("08006"))
    assert is_record_error(wrapped("22P02", DataError))  # invalid input syntax
    assert is_record_error(OverflowError("int too big"))
