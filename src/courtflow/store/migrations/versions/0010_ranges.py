"""Loaded ranges per scope; checkpoints count records and rejects.

Revision ID: 0010_ranges
Revises: 0009_bookings
Create Date: 2026-12-07

- ``sync_ranges``: what each scope has loaded, as merged ``[range_start, range_end)``
  ranges of ``date_modified``. The watermark is the end of the range that holds the
  scope's first load, so it never jumps a gap (courtflow.store.state).
- ``sync_checkpoints.records`` / ``.rejected``: records read and records set aside in the
  window so far, across resumed tries, for the run's rejection threshold.

Existing databases: ranges are seeded from the completed checkpoints and, for a
watermark set by a bootstrap (its run id is a finished bulk load's), the range from
the start of time to that watermark. Each watermark is then recomputed as the end of
its scope's first range: a watermark that had jumped a gap moves back to the gap.
A watermark with no range behind it (its checkpoints gone) is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_ranges"
down_revision: str | None = "0009_bookings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
# The start of a range that holds everything before its end (a bootstrap, a whole walk);
# frozen copy of courtflow.store.state.LOADED_FROM_START.
FROM_START = datetime(1900, 1, 1, tzinfo=UTC)


class _UTC(sa.types.TypeDecorator[datetime]):
    """Frozen copy of courtflow.store.coltypes.UTCDateTime (UTC, naive text on SQLite)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def upgrade() -> None:
    op.create_table(
        "sync_ranges",
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False, server_default=""),
        sa.Column("range_start", TS, nullable=False),
        sa.Column("range_end", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("resource", "scope", "range_start"),
    )
    with op.batch_alter_table("sync_checkpoints") as batch:
        batch.add_column(sa.Column("records", sa.BigInteger(), nullable=False,
                                   server_default="0"))  # fmt: skip
        batch.add_column(sa.Column("rejected", sa.BigInteger(), nullable=False,
                                   server_default="0"))  # fmt: skip
    _seed(op.get_bind())


def _seed(conn: sa.Connection) -> None:
    t, c = sa.table, sa.column
    cp = t("sync_checkpoints", c("resource"), c("scope"), c("window_start", _UTC()),
           c("window_end", _UTC()), c("done", sa.Boolean()))
    wm = t("sync_watermarks", c("resource"), c("scope"), c("watermark", _UTC()),
           c("updated_at", _UTC()), c("run_id"))
    bulk = t("bulk_loads", c("resource"), c("scope"), c("run_id"), c("status"))
    ranges = t("sync_ranges", c("resource"), c("scope"), c("range_start", _UTC()),
               c("range_end", _UTC()), c("updated_at", _UTC()), c("run_id"))  # fmt: skip
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for r in conn.execute(sa.select(cp.c.resource, cp.c.scope, cp.c.window_start,
                                    cp.c.window_end).where(cp.c.done == sa.true())):  # fmt: skip
        spans.setdefault((r[0], r[1]), []).append((_utc(r[2]), _utc(r[3])))
    booted = {(r[0], r[1], r[2]) for r in conn.execute(
        sa.select(bulk.c.resource, bulk.c.scope, bulk.c.run_id).where(bulk.c.status == "done"))}
    marks = list(conn.execute(sa.select(wm.c.resource, wm.c.scope, wm.c.watermark, wm.c.run_id)))
    for resource, scope, mark, run_id in marks:
        if (resource, scope, run_id) in booted:
            spans.setdefault((resource, scope), []).append((FROM_START, _utc(mark)))
    now = datetime.now(UTC)
    for (resource, scope), items in spans.items():
        merged = _merge(items)
        conn.execute(sa.insert(ranges), [
            {"resource": resource, "scope": scope, "range_start": s, "range_end": e,
             "updated_at": now, "run_id": None} for s, e in merged
        ])  # fmt: skip
        first_end = merged[0][1]
        conn.execute(
            sa.update(wm)
            .where(wm.c.resource == resource, wm.c.scope == scope)
            .values(watermark=first_end, updated_at=now)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_checkpoints") as batch:
        batch.drop_column("rejected")
        batch.drop_column("records")
    op.drop_table("sync_ranges")
