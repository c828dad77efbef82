"""DAO for enterprise.company_mapping, its only writer: loads, cached keys, lookups, export.

Every write to the table is here: bulk loads (staging, classification,
merge), and `insert_new_keys` for the small batches of backflow and provider
answers. Functions take a connection and never commit: the caller owns the
transaction, so a failed load leaves the table as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from psycopg.copy import QueuedLibpqWriter
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries
from wdh_cli.mappings.rows import MappingRow

Q = queries("mappings")


@dataclass(frozen=True)
class Classification:
    """Staged rows against stored rows of the same key."""

    new: int
    same: int
    priority_changed: int
    conflicts: int


@dataclass(frozen=True)
class StoredConflict:
    file_no: int
    line: int
    alias_name: str
    match_type: str
    new_id: str
    current_id: str
    current_source: str


@dataclass(frozen=True)
class Contradiction:
    """A staged row whose key's first row in the input names another company."""

    file_no: int
    line: int
    first_file_no: int
    first_line: int
    first_id: str


@dataclass(frozen=True)
class InsertOutcome:
    inserted: int
    skipped: int
    conflicts: int


@dataclass(frozen=True)
class MappingHit:
    match_type: str
    alias_name: str
    canonical_id: str
    priority: int
    source: str


@dataclass(frozen=True)
class StoredMapping:
    alias_name: str
    canonical_id: str
    match_type: str
    priority: int
    source: str


def create_staging(conn: psycopg.Connection) -> None:
    conn.execute(Q["create_staging"])


def stage(
    conn: psycopg.Connection, rows: Iterable[tuple[int, MappingRow]], default_source: str
) -> int:
    """COPY (file_no, row) pairs into the staging table; returns how many."""
    count = 0
    # The queued writer sends COPY data from a thread, so the server ingests
    # while Python goes on parsing and validating the next rows.
    with conn.cursor() as cur, cur.copy(Q["copy_staging"], writer=QueuedLibpqWriter(cur)) as copy:
        for file_no, row in rows:
            copy.write_row(
                (
                    file_no,
                    row.line,
                    row.alias_name,
                    row.canonical_id,
                    row.match_type,
                    row.priority,
                    row.source or default_source,
                )
            )
            count += 1
    return count


def keep_first_rows(conn: psycopg.Connection) -> int:
    """Keep the first staged row of each key (in key order); returns how many keys."""
    keys = conn.execute(Q["keep_first_rows"]).rowcount
    conn.execute(Q["analyze_keys"])
    return keys


def list_contradictions(conn: psycopg.Connection) -> list[Contradiction]:
    """Staged rows that give a key another company than its first row, in file order."""
    with conn.cursor(row_factory=class_row(Contradiction)) as cur:
        return cur.execute(Q["list_contradictions"]).fetchall()


def prepare_load(conn: psycopg.Connection) -> None:
    """Session settings for one load transaction (SET LOCAL: gone at commit)."""
    conn.execute(Q["tune_load"])


def lock_for_load(conn: psycopg.Connection) -> None:
    conn.execute(Q["lock_mappings"])


def count_source(conn: psycopg.Connection, source: str) -> int:
    row = conn.execute(Q["count_source"], {"source": source}).fetchone()
    return int(row[0]) if row else 0


def classify(conn: psycopg.Connection, replace_source: str | None) -> Classification:
    with conn.cursor(row_factory=class_row(Classification)) as cur:
        result = cur.execute(Q["classify"], {"replace_source": replace_source}).fetchone()
    assert result is not None  # an aggregate always returns a row
    return result


def list_conflicts(conn: psycopg.Connection, replace_source: str | None) -> list[StoredConflict]:
    with conn.cursor(row_factory=class_row(StoredConflict)) as cur:
        return cur.execute(Q["list_conflicts"], {"replace_source": replace_source}).fetchall()


def delete_source(conn: psycopg.Connection, source: str) -> int:
    return conn.execute(Q["delete_source"], {"source": source}).rowcount


def insert_new(conn: psycopg.Connection) -> int:
    """Insert staged rows whose key is not stored; returns how many were inserted."""
    return conn.execute(Q["insert_new"]).rowcount


def upsert(conn: psycopg.Connection) -> int:
    """Insert or update staged rows; returns inserted + updated."""
    return conn.execute(Q["upsert"]).rowcount


class NewMapping(NamedTuple):
    """A key to cache: written only where the key is not stored yet."""

    alias_name: str
    canonical_id: str
    match_type: str
    priority: int


def insert_new_keys(
    conn: psycopg.Connection, rows: Sequence[NewMapping], source: str, *, write: bool = True
) -> InsertOutcome:
    """The one writer of small batches (backflow, provider answers): new keys only.

    The conflict rule is "what is stored wins": a key already mapped keeps its
    row, and is counted as skipped (same company) or a conflict (another
    one). Bulk loads merge a staging table instead (insert_new, upsert).
    write=False counts what would happen and writes nothing (plan-only).
    """
    if not rows:
        return InsertOutcome(0, 0, 0)
    with conn.cursor(row_factory=class_row(InsertOutcome)) as cur:
        outcome = cur.execute(Q["insert_new_keys"], _new_keys(rows, source, write)).fetchone()
    assert outcome is not None  # an aggregate always returns a row
    return outcome


def cache_new_keys(conn: psycopg.Connection, rows: Sequence[NewMapping], source: str) -> None:
    """`insert_new_keys` for a caller that needs no figures: nothing is read back.

    A drain sends it in pipeline mode with its other writes, in one round trip.
    """
    if rows:
        conn.execute(Q["insert_new_keys"], _new_keys(rows, source, True))


def _new_keys(rows: Sequence[NewMapping], source: str, write: bool) -> dict[str, object]:
    return {
        "aliases": [r.alias_name for r in rows],
        "company_ids": [r.canonical_id for r in rows],
        "match_types": [r.match_type for r in rows],
        "priorities": [r.priority for r in rows],
        "source": source,
        "write": write,
    }


def lookup(
    conn: psycopg.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], MappingHit]:
    """Stored mappings of many (match_type, key) pairs, in one statement."""
    if not pairs:
        return {}
    params = {"match_types": [p[0] for p in pairs], "keys": [p[1] for p in pairs]}
    with conn.cursor(row_factory=class_row(MappingHit)) as cur:
        cur.execute(Q["lookup"], params)
        return {(hit.match_type, hit.alias_name): hit for hit in cur}


def iter_mappings(conn: psycopg.Connection, match_type: str | None) -> Iterator[StoredMapping]:
    """Every mapping (of one level), ordered, streamed through a server-side cursor."""
    with conn.cursor(name="wdh_export", row_factory=class_row(StoredMapping)) as cur:
        cur.itersize = 5000
        cur.execute(Q["export_rows"], {"match_type": match_type})
        yield from cur
