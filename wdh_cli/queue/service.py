"""Queue services: enqueue, status, retry, resolved, purge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from wdh_cli.config import Settings, require_salt
from wdh_cli.db import Database
from wdh_cli.names import normalize_name
from wdh_cli.queue import repository
from wdh_cli.queue.repository import Counts, ErrorCount, ResolvedRow
from wdh_cli.tempids.assign import assign

MAX_NAME = 255  # enrichment_requests.raw_name / normalized_name


@dataclass(frozen=True)
class EnqueueReport:
    queued: int
    skipped: int


def enqueue(db: Database, settings: Settings, raw_names: Iterable[str]) -> EnqueueReport:
    """Queue names (one statement). Skipped: empty, too long, repeated, or already open."""
    names = list(raw_names)
    keep = [
        (raw.strip(), key)
        for raw in names
        if (key := normalize_name(raw)) and len(key) <= MAX_NAME and len(raw.strip()) <= MAX_NAME
    ]
    salt = require_salt(settings) if settings.temp_id_style == "hmac" and keep else None
    with db.connect() as conn, conn.transaction():
        ids = assign([key for _, key in keep], style=settings.temp_id_style, salt=salt, conn=conn)
        queued = repository.enqueue(
            conn,
            [raw for raw, _ in keep],
            [key for _, key in keep],
            [ids.get(key) for _, key in keep],
        )
    return EnqueueReport(queued=queued, skipped=len(names) - queued)


@dataclass
class StatusReport:
    counts: Counts
    errors: list[ErrorCount] = field(default_factory=list)


def status(db: Database, settings: Settings) -> StatusReport:
    with db.connect() as conn:
        return StatusReport(
            repository.counts(conn, settings.queue_stale_after), repository.common_errors(conn)
        )


def retry(db: Database, ids: list[int] | None) -> int:
    """Put failed rows (all, or these ids) back to pending; returns how many."""
    with db.connect() as conn, conn.transaction():
        return repository.retry(conn, ids)


def resolved(db: Database, since: datetime | None) -> list[ResolvedRow]:
    with db.connect() as conn:
        return repository.resolved(conn, since)


def purge_done(db: Database, days: int) -> int:
    with db.connect() as conn, conn.transaction():
        return repository.purge_done(conn, days)
