"""DAO for sequential temporary IDs: the block counter and IDs already queued."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries
from wdh_cli.errors import DatabaseError

Q = queries("temp_ids")


@dataclass(frozen=True)
class QueuedId:
    normalized_name: str
    temp_id: str


def reserve_block(conn: psycopg.Connection, count: int) -> range:
    """Reserve `count` consecutive numbers; returns them as a range."""
    row = conn.execute(Q["reserve_block"], {"count": count}).fetchone()
    if row is None:
        raise DatabaseError(
            "enterprise.temp_id_sequence has no row (it is made by migration 0002): "
            "check the schema with `wdh migrate verify`"
        )
    last = int(row[0])
    return range(last - count + 1, last + 1)


def queued_ids(conn: psycopg.Connection, keys: list[str]) -> dict[str, str]:
    """Sequential IDs that queued names already hold."""
    with conn.cursor(row_factory=class_row(QueuedId)) as cur:
        cur.execute(Q["queued_sequence_ids"], {"keys": keys})
        return {row.normalized_name: row.temp_id for row in cur}
