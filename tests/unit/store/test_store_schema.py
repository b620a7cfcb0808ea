"""Table definitions and the UTC datetime type, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.catalogue.resources import RESOURCES
from courtflow.store.coltypes import UTCDateTime
from courtflow.store.tables import BASE_COLUMNS, RESOURCE_TABLES, resource_table

PACIFIC_WINTER = timezone(timedelta(hours=-8))


def test_every_resource_has_a_table_with_base_and_typed_columns() -> None:
    for name, spec in RESOURCES.items():
        table = RESOURCE_TABLES[name]
        assert table.name == spec.table
        assert [c.name for c in table.primary_key] == ["id"]
        names = set(table.columns.keys())
        assert set(BASE_COLUMNS) <= names
        assert {c.name for c in spec.columns} <= names


def test_link_id_columns_and_date_modified_are_indexed() -> None:
    indexed = {
        tuple(c.name for c in ix.columns) for ix in resource_table("opinions").indexes
    }
    assert ("date_modified",) in indexed and ("cluster_id",) in indexed


def test_sqlite_stores_utc_without_offset() -> None:
    value = datetime(2025, 1, 1, 16, 0, tzinfo=PACIFIC_WINTER)
    stored = UTCDateTime().process_bind_param(value, sqlite.dialect())
    assert stored == datetime(2025, 1, 2, 0, 0)


def test_postgresql_gets_aware_utc() -> None:
    value = datetime(2025, 1, 1, 16, 0, tzinfo=PACIFIC_WINTER)
    stored = UTCDateTime().process_bind_param(value, postgresql.dialect())
    assert stored == value and stored is not None and stored.tzinfo == UTC


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), sqlite.dialect())


def test_values_read_back_are_aware_utc() -> None:
    naive = UTCDateTime().process_result_value(datetime(2025, 1, 2), sqlite.dialect())
    aware = UTCDateTime().process_result_value(
        datetime(2025, 1, 1, 16, tzinfo=PACIFIC_WINTER), postgresql.dialect()
    )
    assert naive == aware == datetime(2025, 1, 2, tzinfo=UTC)
    assert aware is not None and aware.tzinfo == UTC
