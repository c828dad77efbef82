"""DAO for the name-rules version and the re-key of stored name keys. Callers own transactions.

The SQL is in sql/queries/names.sql, with why each statement is shaped as it is.
The re-key writes the name keys of company_mapping, the provider ledger and
the queue itself, not through their owners: the exception
docs/architecture.md names, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row, dict_row

from wdh_cli.db.sqlfiles import queries

Q = queries("names")

# The version of a database with no record (before migration 0005): the only rules there were.
UNRECORDED_VERSION = 1


def stored_version(conn: psycopg.Connection) -> int | None:
    """The rules version of the stored name keys; None where no table holds any (no schema)."""
    with conn.cursor(row_factory=dict_row) as cur:
        present = cur.execute(Q["rules_table_present"]).fetchone()
        assert present is not None  # a SELECT without FROM returns one row
        if not present["present"]:
            return UNRECORDED_VERSION if present["keyed"] else None
        row = cur.execute(Q["rules_version"]).fetchone()
    return UNRECORDED_VERSION if row is None else int(row["version"])


def set_version(conn: psycopg.Connection, version: int) -> None:
    conn.execute(Q["set_rules_version"], {"version": version})


def lock_name_keys(conn: psycopg.Connection) -> None:
    conn.execute(Q["lock_name_keys"])


def stored_keys(conn: psycopg.Connection) -> Iterator[str]:
    """Each distinct key of the name mappings and the ledger, once."""
    with conn.cursor() as cur, cur.copy(Q["copy_stored_keys"]) as copy:
        for (key,) in copy.rows():
            yield key


def stored_requests(conn: psycopg.Connection) -> Iterator[tuple[str, str]]:
    """Each distinct (raw_name, normalized_name) of the queue, once."""
    with conn.cursor() as cur, cur.copy(Q["copy_stored_requests"]) as copy:
        for row in copy.rows():
            yield row[0], row[1]


def create_rekey_tables(conn: psycopg.Connection) -> None:
    conn.execute(Q["create_rekey_tables"])


def load_changed_keys(conn: psycopg.Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """(old key, new key) of the keys that change, by COPY."""
    with conn.cursor() as cur, cur.copy(Q["copy_rekey_keys"]) as copy:
        for pair in pairs:
            copy.write_row(pair)


def load_changed_requests(
    conn: psycopg.Connection,
    rows: Iterable[tuple[str, str, str, str | None, str | None]],
) -> None:
    """(raw name, old key, new key, old HMAC ID, new HMAC ID) of the requests that change."""
    with conn.cursor() as cur, cur.copy(Q["copy_rekey_requests"]) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(Q["analyze_rekey_tables"])


@dataclass(frozen=True)
class Counts:
    keys_changed: int
    merged: int
    conflicts: int
    emptied: int


@dataclass(frozen=True)
class KeyConflict:
    """A row removed because its new key is another row's and their companies disagree."""

    table_name: str
    old_key: str
    new_key: str
    removed: str  # the removed row's company (or the ledger's outcome)
    kept: str  # the company of the row kept under new_key


TABLES = ("mappings", "ledger", "requests")


def plan(conn: psycopg.Connection, table: str) -> Counts:
    """Plan one table (mappings, ledger or requests): what moves, merges, conflicts."""
    conn.execute(Q[f"plan_{table}"])
    with conn.cursor(row_factory=class_row(Counts)) as cur:
        counts = cur.execute(Q[f"count_{table}"]).fetchone()
    assert counts is not None  # an aggregate always returns a row
    return counts


def conflicts(conn: psycopg.Connection) -> list[KeyConflict]:
    """The conflicts of the planned mappings and ledger."""
    with conn.cursor(row_factory=class_row(KeyConflict)) as cur:
        found = cur.execute(Q["mapping_conflicts"]).fetchall()
        return found + cur.execute(Q["ledger_conflicts"]).fetchall()


def apply_mappings(conn: psycopg.Connection, from_version: int, to_version: int) -> None:
    versions = {"from_version": from_version, "to_version": to_version}
    conn.execute(Q["remove_mappings"], versions)
    conn.execute(Q["move_mappings"])


def apply_ledger(conn: psycopg.Connection, from_version: int, to_version: int) -> None:
    versions = {"from_version": from_version, "to_version": to_version}
    conn.execute(Q["remove_ledger"], versions)
    conn.execute(Q["move_ledger"])


NOT_A_NAME = "rekey: not a company name under the new rules"  # last_error of closed requests


def apply_requests(conn: psycopg.Connection) -> None:
    conn.execute(Q["merge_requests"])
    conn.execute(Q["move_requests"], {"not_a_name": NOT_A_NAME})
