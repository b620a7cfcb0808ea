"""Migrations 0002_budget and 0005_budget_classes: the budget's tables as defined, and
the reserve and admit functions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from courtflow.budget.tables import BUDGET_TABLES
from courtflow.store.metadata import metadata
from courtflow.store.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from pg_support import scratch_database


def test_migrated_budget_tables_match_their_definitions(budget_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with budget_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        diffs = compare_metadata(context, metadata)
    # Any difference that names one of our tables (added, removed, altered columns or indexes).
    assert [d for d in diffs if any(name in repr(d) for name in BUDGET_TABLES)] == []
    assert set(BUDGET_TABLES) <= set(inspect(budget_engine).get_table_names())


def test_the_reserve_function_exists_on_postgresql(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_proc"
                " WHERE proname IN ('courtflow_reserve', 'courtflow_admit')"
            )
        ).scalar_one()
    assert found == 2


@pytest.fixture
def scratch_pg(pg_url: str) -> Iterator[Engine]:
    with scratch_database("courtflow_budget", pg_url) as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def test_downgrade_to_the_store_removes_the_budget_and_upgrade_restores_it(
    scratch_pg: Engine,
) -> None:
    upgrade(scratch_pg)
    from alembic import command

    from courtflow.store.migrate import alembic_config

    assert current_revision(scratch_pg) == head_revision()

    with scratch_pg.begin() as conn:
        command.downgrade(alembic_config(conn), "0001_store")
    assert current_revision(scratch_pg) == "0001_store"
    assert not set(BUDGET_TABLES) & set(inspect(scratch_pg).get_table_names())
    upgrade(scratch_pg)
    assert set(BUDGET_TABLES) <= set(inspect(scratch_pg).get_table_names())
