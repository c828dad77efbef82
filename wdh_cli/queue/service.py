"""Queue services: enqueue, status, retry, resolved, purge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.ledger import repository as ledger
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.names import normalize_name
from wdh_cli.queue import repository
from wdh_cli.queue.repository import Counts, ErrorCount, ResolvedRow
from wdh_cli.tabular.sheets import read_column
from wdh_cli.tempids.issuer import TempIdIssuer

MAX_NAME = 255  # enrichment_requests.raw_name / normalized_name


def queueable(raw_name: str, key: str) -> bool:
    """A name the queue can hold: a non-empty key, both spellings within the columns,
    and no NUL character (PostgreSQL text cannot hold one)."""
    return (
        bool(key)
        and len(key) <= MAX_NAME
        and len(raw_name.strip()) <= MAX_NAME
        and "\x00" not in raw_name
    )


@dataclass(frozen=True)
class Enqueued:
    """What one enqueue did with the names it was given."""

    given: int
    queued: int  # rows inserted
    unfit: int  # empty or too long for the queue

    @property
    def already(self) -> int:
        """Names not queued although fit: open already, repeated, or (resolve) failed."""
        return self.given - self.unfit - self.queued


def enqueue_names(
    conn: psycopg.Connection,
    names: Sequence[tuple[str, str]],
    temp_ids: Mapping[str, str],
    *,
    skip_failed: bool,
    write: bool = True,
) -> Enqueued:
    """The one enqueue path: (raw name, normalized name) pairs in one statement.

    Used by `wdh queue enqueue` and by resolve, in the caller's transaction.
    skip_failed leaves out names whose lookup already failed (resolve runs).
    write=False (plan-only) reports what the enqueue would do and writes nothing.
    """
    fit = [(raw.strip(), key) for raw, key in names if queueable(raw, key)]
    if not write:
        keys = list(dict.fromkeys(key for _, key in fit))
        left_out = repository.names_left_out(conn, keys, skip_failed=skip_failed)
        would = len(keys) - len(left_out)
        return Enqueued(given=len(names), queued=would, unfit=len(names) - len(fit))
    queued = repository.enqueue(
        conn,
        [raw for raw, _ in fit],
        [key for _, key in fit],
        [temp_ids.get(key) for _, key in fit],
        skip_failed=skip_failed,
    )
    return Enqueued(given=len(names), queued=queued, unfit=len(names) - len(fit))


# Names per record_waiting statement (the names are distinct, so the chunks
# of one transaction do what one statement would): 50,000 names' arrays in
# one statement held 40 MB in the queue's thread (bench tables, own accounts).
RECORD_CHUNK = 10_000


def record_waiting(
    conn: psycopg.Connection,
    names: Sequence[tuple[str, str, int]],
    temp_ids: Mapping[str, str],
    *,
    queue: bool,
    write: bool = True,
) -> Enqueued:
    """What a resolve run leaves with temporary IDs: (raw name, normalized name, rows).

    Names the queue can hold and has not open (nor failed) are queued; every
    such name's newest request gains its rows (docs/lifecycle.md). Names are
    distinct. write=False (plan-only) reports what would be queued.
    """
    fit = [(raw.strip(), key, rows) for raw, key, rows in names if queueable(raw, key)]
    unfit = len(names) - len(fit)
    if not write:
        if not queue:
            return Enqueued(given=0, queued=0, unfit=0)
        left_out = repository.names_left_out(conn, [key for _, key, _ in fit], skip_failed=True)
        return Enqueued(given=len(names), queued=len(fit) - len(left_out), unfit=unfit)
    queued = 0
    for start in range(0, len(fit), RECORD_CHUNK):
        chunk = fit[start : start + RECORD_CHUNK]
        queued += repository.record_waiting(
            conn,
            [raw for raw, _, _ in chunk],
            [key for _, key, _ in chunk],
            [temp_ids.get(key) for _, key, _ in chunk],
            [rows for _, _, rows in chunk],
            queue=queue,
            skip_failed=True,
        ).queued
    if not queue:
        return Enqueued(given=0, queued=0, unfit=0)
    return Enqueued(given=len(names), queued=queued, unfit=unfit)


@dataclass(frozen=True)
class EnqueueReport:
    queued: int
    skipped: int


def enqueue(
    db: Database,
    settings: Settings,
    raw_names: Iterable[str],
    *,
    file: Path | None = None,
    column: str = "客户名称",
) -> EnqueueReport:
    """`wdh queue enqueue`: names, and those of a spreadsheet column.

    Skipped: empty, too long, repeated, or already open.
    """
    raw = [*raw_names, *(read_column(file, column) if file is not None else [])]
    names = [(name, normalize_name(name)) for name in raw]
    keys = [key for raw, key in names if queueable(raw, key)]
    issuer = TempIdIssuer.from_settings(settings) if keys else None
    with db.connect() as conn, conn.transaction():
        require_current_rules(conn)
        ids = issuer.issue(keys, conn) if issuer is not None else {}
        done = enqueue_names(conn, names, ids, skip_failed=False)
    return EnqueueReport(queued=done.queued, skipped=done.given - done.queued)


@dataclass(frozen=True)
class StatusReport(Counts):
    """`wdh queue status`: the counts per status, and the most common errors."""

    errors: list[ErrorCount] = field(default_factory=list)


def status(db: Database, settings: Settings) -> StatusReport:
    with db.connect() as conn:
        counts = repository.counts(conn, settings.queue_stale_after)
        return StatusReport(**asdict(counts), errors=repository.common_errors(conn))


@dataclass(frozen=True)
class RetryReport:
    retried: int


def retry(db: Database, ids: list[int] | None) -> RetryReport:
    """Put failed rows (all, or these ids) back to pending, forgetting their ledger answers.

    A person who asks again wants a fresh answer, not the remembered one.
    """
    with db.connect() as conn, conn.transaction():
        names = repository.retry(conn, ids)
        ledger.forget(conn, names)
    return RetryReport(retried=len(names))


def resolved(db: Database, since: datetime | None) -> list[ResolvedRow]:
    with db.connect() as conn:
        return repository.resolved(conn, since)


@dataclass(frozen=True)
class PurgeReport:
    purged: int


def purge_done(db: Database, days: int) -> PurgeReport:
    with db.connect() as conn, conn.transaction():
        return PurgeReport(purged=repository.purge_done(conn, days))
