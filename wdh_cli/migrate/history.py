"""DAO for the migration history table and the migration advisory lock.

Every function takes a connection and leaves transactions to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries

Q = queries("migrate")

# Two-key advisory lock: (class, object). 0x77646800 spells "wdh\0".
LOCK_CLASS_ID = 0x77646800
MIGRATION_LOCK_ID = 1


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    description: str
    checksum: str
    applied_by: str
    applied_at: datetime
    execution_ms: int
    success: bool
    error: str | None
    baseline: bool = False


@dataclass(frozen=True)
class LockHolder:
    pid: int
    user_name: str | None
    application_name: str | None
    client_addr: str | None
    backend_start: datetime | None

    def describe(self) -> str:
        who = self.application_name or "an unnamed client"
        where = f" from {self.client_addr}" if self.client_addr else ""
        since = (
            f", connected since {self.backend_start:%Y-%m-%d %H:%M:%S%z}"
            if self.backend_start
            else ""
        )
        return f"server pid {self.pid} ({who}, user {self.user_name}{where}{since})"


def create_table(conn: psycopg.Connection) -> None:
    conn.execute(Q["create_history"])


def table_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute(Q["history_exists"]).fetchone()
    return bool(row and row[0])


def applied(conn: psycopg.Connection) -> list[AppliedMigration]:
    """History rows in version order; empty when the table does not exist yet."""
    if not table_exists(conn):
        return []
    with conn.cursor(row_factory=class_row(AppliedMigration)) as cur:
        return cur.execute(Q["applied"]).fetchall()


def record(
    conn: psycopg.Connection,
    *,
    version: int,
    description: str,
    checksum: str,
    execution_ms: int,
    success: bool,
    error: str | None = None,
    baseline: bool = False,
) -> None:
    conn.execute(
        Q["record"],
        {
            "version": version,
            "description": description,
            "checksum": checksum,
            "execution_ms": execution_ms,
            "success": success,
            "error": error,
            "baseline": baseline,
        },
    )


def forget(conn: psycopg.Connection, version: int) -> None:
    conn.execute(Q["forget"], {"version": version})


def set_checksum(conn: psycopg.Connection, version: int, checksum: str) -> None:
    conn.execute(Q["set_checksum"], {"version": version, "checksum": checksum})


def forget_failed(conn: psycopg.Connection, version: int) -> None:
    conn.execute(Q["forget_failed"], {"version": version})


_LOCK_KEYS = {"class_id": LOCK_CLASS_ID, "object_id": MIGRATION_LOCK_ID}


def try_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute(Q["try_lock"], _LOCK_KEYS).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection) -> None:
    conn.execute(Q["unlock"], _LOCK_KEYS)


def lock_holder(conn: psycopg.Connection) -> LockHolder | None:
    with conn.cursor(row_factory=class_row(LockHolder)) as cur:
        return cur.execute(Q["lock_holder"], _LOCK_KEYS).fetchone()
