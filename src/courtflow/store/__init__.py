"""The target database: tables, migrations, batched idempotent upserts, checkpoints.

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        upsert_rows(conn, RESOURCES["dockets"], page_results, run_id)
        save_checkpoint(conn, checkpoint, run_id)
"""

from courtflow.store.engine import is_sqlite, make_engine
from courtflow.store.metadata import metadata
from courtflow.store.migrate import current_revision, head_revision, upgrade
from courtflow.store.rejects import (
    PageStored,
    RejectRow,
    count_rejects,
    list_rejects,
    store_page,
)
from courtflow.store.state import (
    LOADED_FROM_START,
    Checkpoint,
    Range,
    gaps_of,
    get_checkpoint,
    get_watermark,
    list_checkpoints,
    loaded_ranges,
    record_range,
    save_checkpoint,
)
from courtflow.store.tables import (
    RESOURCE_TABLES,
    resource_table,
    sync_checkpoints,
    sync_watermarks,
)
from courtflow.store.upsert import count_rows, table_checksum, upsert_rows

__all__ = [
    "LOADED_FROM_START",
    "RESOURCE_TABLES",
    "Checkpoint",
    "PageStored",
    "Range",
    "RejectRow",
    "count_rejects",
    "count_rows",
    "current_revision",
    "gaps_of",
    "get_checkpoint",
    "get_watermark",
    "head_revision",
    "is_sqlite",
    "list_checkpoints",
    "list_rejects",
    "loaded_ranges",
    "make_engine",
    "metadata",
    "record_range",
    "resource_table",
    "save_checkpoint",
    "store_page",
    "sync_checkpoints",
    "sync_watermarks",
    "table_checksum",
    "upgrade",
    "upsert_rows",
]
