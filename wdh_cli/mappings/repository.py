"""DAO for enterprise.company_mapping, its owner: loads, cached keys, lookups, export.

Its writes are here: bulk loads (staging, classification, merge), and
`insert_new_keys` for the small batches of backflow and provider answers.
Two other statements write the table, each for a reason given in
docs/architecture.md: the drain's `record_batch` and the re-key's
(sql/queries/names.sql). Functions take a connection and never commit: the caller owns the
transaction, so a failed load leaves the table as it was.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from psycopg.abc import Buffer
from psycopg.copy import LibpqWriter
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


class MappingHit(NamedTuple):
    """A stored mapping found by `lookup`.

    A NamedTuple, made by `_make` straight from the row's values: a lookup
    returns a hit per cached key of a resolve batch, and a dataclass through
    class_row cost a tenth of a 200k-row resolve.
    """

    match_type: str
    alias_name: str
    canonical_id: str
    priority: int
    source: str


def _hit_rows(cursor: Any) -> Callable[[Sequence[Any]], MappingHit]:
    """Row factory: each row as a MappingHit."""
    return MappingHit._make


@dataclass(frozen=True)
class StoredMapping:
    alias_name: str
    canonical_id: str
    match_type: str
    priority: int
    source: str


def create_staging(conn: psycopg.Connection) -> None:
    conn.execute(Q["create_staging"])


# COPY's text format gives four characters a meaning; in a field they are escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BLOCK_CHARS = 32_768  # text sent to the server at a time


def stage(
    conn: psycopg.Connection, rows: Iterable[tuple[int, MappingRow]], default_source: str
) -> int:
    """COPY (file number, row) pairs into the staging table as they come; returns how many.

    Each row becomes one line of COPY's text format, written here: one
    f-string, checked for the four characters that need escaping, costs less
    than a tuple per row through `copy.write_row`. Lines go in blocks of about
    32k characters.
    """
    count = 0
    block: list[str] = []
    size = 0
    with conn.cursor() as cur, cur.copy(Q["copy_staging"], writer=_BackgroundWriter(cur)) as copy:
        for file_no, row in rows:
            alias, company, match_type, priority, source, _, line = row
            source = source or default_source
            text = f"{file_no}\t{line}\t{alias}\t{company}\t{match_type}\t{priority}\t{source}\n"
            # Numbers and match types never need escaping; the three free texts rarely.
            free = alias + company + source
            if "\\" in free or "\t" in free or "\n" in free or "\r" in free:
                alias, company, source = (
                    t.translate(_COPY_ESCAPES) for t in (alias, company, source)
                )
                text = (
                    f"{file_no}\t{line}\t{alias}\t{company}\t{match_type}\t{priority}\t{source}\n"
                )
            block.append(text)
            size += len(text)
            if size >= _BLOCK_CHARS:
                copy.write("".join(block))
                count += len(block)
                block.clear()
                size = 0
        if block:
            copy.write("".join(block))
            count += len(block)
    return count


class _BackgroundWriter(LibpqWriter):
    """Sends COPY data from a thread, so the server ingests while Python goes on
    reading and validating the next rows.

    At most `depth` blocks wait: when the server falls behind, the reader
    waits too, and memory stays bounded (psycopg's QueuedLibpqWriter lets
    1,024 blocks queue up).
    """

    def __init__(self, cursor: psycopg.Cursor[Any], depth: int = 16) -> None:
        super().__init__(cursor)
        self._blocks: queue.Queue[Buffer | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _send(self) -> None:
        try:
            while (block := self._blocks.get()) is not None:
                super().write(block)
        except BaseException as exc:  # handed to the main thread
            self._error = exc
            while self._blocks.get() is not None:
                pass  # keep taking blocks, so that write() never waits forever

    def write(self, data: Buffer) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="wdh-copy", daemon=True)
            self._thread.start()
        if self._error is not None:
            raise self._error
        self._blocks.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        if self._thread is not None:
            self._blocks.put(None)
            self._thread.join()
        if self._error is not None and exc is None:
            raise self._error
        super().finish(exc)


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
    conn: psycopg.Connection,
    rows: Sequence[NewMapping],
    source: str,
    *,
    write: bool = True,
    weights: Sequence[int] | None = None,
) -> InsertOutcome:
    """The one writer of small batches (backflow, provider answers): new keys only.

    The conflict rule is "what is stored wins": a key already mapped keeps its
    row, and is counted as skipped (same company) or a conflict (another
    one). Bulk loads merge a staging table instead (insert_new, upsert).
    write=False counts what would happen and writes nothing (plan-only).
    weights: how many input rows each mapping stands for (default one each);
    the figures count those rows, as if each had been sent on its own.
    """
    if not rows:
        return InsertOutcome(0, 0, 0)
    params = _new_keys(rows, source, write)
    params["weights"] = list(weights) if weights is not None else [1] * len(rows)
    with conn.cursor(row_factory=class_row(InsertOutcome)) as cur:
        outcome = cur.execute(Q["insert_new_keys"], params).fetchone()
    assert outcome is not None  # an aggregate always returns a row
    return outcome


def cache_new_keys(conn: psycopg.Connection, rows: Sequence[NewMapping], source: str) -> None:
    """`insert_new_keys` for a caller that needs no figures: nothing is read back.

    A drain sends it in pipeline mode with its other writes, in one round trip.
    """
    if rows:
        params = _new_keys(rows, source, True)
        params["weights"] = [1] * len(rows)
        conn.execute(Q["insert_new_keys"], params)


def _new_keys(rows: Sequence[NewMapping], source: str, write: bool) -> dict[str, object]:
    return {
        "aliases": [r.alias_name for r in rows],
        "company_ids": [r.canonical_id for r in rows],
        "match_types": [r.match_type for r in rows],
        "priorities": [r.priority for r in rows],
        "source": source,
        "write": write,
    }


def insert_learned(conn: psycopg.Connection, source: str) -> InsertOutcome:
    """Backflow: the keys of the session's wdh_learned (a resolve run's learned keys).

    Each key is new (the run found it unstored); one that another session
    stored meanwhile keeps its row. The figures count the rows that taught
    each key, as `insert_new_keys` counts its weights.
    """
    with conn.cursor(row_factory=class_row(InsertOutcome)) as cur:
        outcome = cur.execute(Q["insert_learned"], {"source": source}).fetchone()
    assert outcome is not None  # an aggregate always returns a row
    return outcome


def lookup(
    conn: psycopg.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], MappingHit]:
    """Stored mappings of many (match_type, key) pairs, in one statement."""
    if not pairs:
        return {}
    params = {"match_types": [p[0] for p in pairs], "keys": [p[1] for p in pairs]}
    with conn.cursor(row_factory=_hit_rows) as cur:
        cur.execute(Q["lookup"], params)
        # fetchall makes every row in one call, where iterating is a call per row.
        return {(hit.match_type, hit.alias_name): hit for hit in cur.fetchall()}


def iter_mappings(conn: psycopg.Connection, match_type: str | None) -> Iterator[StoredMapping]:
    """Every mapping (of one level), ordered, streamed through a server-side cursor."""
    with conn.cursor(name="wdh_export", row_factory=class_row(StoredMapping)) as cur:
        cur.itersize = 5000
        cur.execute(Q["export_rows"], {"match_type": match_type})
        yield from cur
