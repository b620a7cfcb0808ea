"""The guards of every upsert: which version of a row wins (API pages, COPY merges, bulk loads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, or_
from sqlalchemy.sql.elements import ColumnElement


def newer_than_stored(table: Table, excluded: Any) -> ColumnElement[bool]:
    """The upsert's guard: the incoming version wins over the stored one."""
    return or_(
        table.c.date_modified < excluded.date_modified,
        and_(
            table.c.date_modified == excluded.date_modified,
            table.c.content_hash < excluded.content_hash,
        ),
    )


def served_again(table: Table, excluded: Any) -> ColumnElement[bool]:
    """The guard of rows the server has just sent: newer wins, and a row marked deleted
    comes back (``deleted_at`` cleared) when the server serves it again, even unchanged.

    Bulk loads keep :func:`newer_than_stored`: an export is a past snapshot, and one
    older than a deletion must not bring the row back.
    """
    return or_(
        newer_than_stored(table, excluded),
        and_(
            table.c.deleted_at.is_not(None),
            table.c.date_modified <= excluded.date_modified,
        ),
    )
