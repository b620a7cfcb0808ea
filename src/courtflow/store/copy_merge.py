"""PostgreSQL bulk path: COPY rows into a session temp table, then one merging INSERT.

Worth it only for large batches (bulk loads); API pages of 20 rows go through the
single jsonb_to_recordset statement in upsert.py, faster at that size (see the benchmark).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, MetaData, Table, select
from sqlalchemy.dialects import postgresql

from courtflow.store.convert import Converted
from courtflow.store.guards import served_again

# Staging tables live in their own MetaData: they must never reach migrations.
_stage_metadata = MetaData()


def _stage_table(table: Table) -> Table:
    name = f"courtflow_stage_{table.name}"
    existing = _stage_metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name,
        _stage_metadata,
        *(Column(c.name, c.type) for c in table.columns),
        prefixes=["TEMPORARY"],
    )


def copy_merge_upsert(conn: Connection, table: Table, items: list[Converted]) -> int:
    """Upsert already converted and deduplicated rows, with the same guard as upsert.py."""
    stage = _stage_table(table)
    prep = conn.dialect.identifier_preparer
    stage_name, target_name = prep.quote(stage.name), prep.quote(table.name)
    # Dropped at commit, so its shape always follows the target's current columns;
    # only bulk calls come here, so the catalog churn is a few rows per 500+ records.
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage_name} "
        f"(LIKE {target_name} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    names = [c.name for c in table.columns]
    column_list = ", ".join(prep.quote(n) for n in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {stage_name} ({column_list}) FROM STDIN") as copy:
            for item in items:
                # COPY's text format takes JSON as text; the server parses it into jsonb.
                copy.write_row([item.data_json if n == "data" else item.row[n] for n in names])
    finally:
        cursor.close()
    insert = postgresql.insert(table).from_select(names, select(*stage.c))
    merge = insert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={n: insert.excluded[n] for n in names if n != "id"},
        where=served_again(table, insert.excluded),
    ).returning(table.c.id)
    written = len(conn.execute(merge).all())
    # The caller may upsert more batches before committing.
    conn.exec_driver_sql(f"TRUNCATE {stage_name}")
    return written
