"""DAO for enterprise.enrichment_requests. Callers own the transactions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from wdh_cli.companies.repository import Learned
from wdh_cli.db.sqlfiles import queries
from wdh_cli.ledger.answers import Answer
from wdh_cli.mappings import levels

Q = queries("queue")


@dataclass(frozen=True)
class Job:
    id: int
    raw_name: str
    normalized_name: str
    temp_id: str | None
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed row."""

    id: int
    status: str  # done | failed | pending
    attempted: int  # 1 if the provider was asked; 0 if handed back unasked or settled by the ledger
    error: str | None = None
    company_id: str | None = None
    retry_in: float = 0.0


@dataclass(frozen=True)
class Counts:
    pending: int
    processing: int
    done: int
    failed: int
    ready: int
    stale: int
    oldest_pending_seconds: float | None
    rows_waiting: int  # rows left with temporary IDs of open and failed requests


@dataclass(frozen=True)
class ErrorCount:
    error: str
    rows: int


@dataclass(frozen=True)
class ResolvedRow:
    temp_id: str | None
    raw_name: str
    resolved_company_id: str
    resolved_at: datetime


def enqueue(
    conn: psycopg.Connection,
    raw_names: Sequence[str],
    normalized_names: Sequence[str],
    temp_ids: Sequence[str | None],
    *,
    skip_failed: bool = False,
) -> int:
    """Queue a batch in one statement; returns how many rows were inserted.

    skip_failed: leave out names whose lookup already failed (resolve runs).
    """
    if not raw_names:
        return 0
    params = {
        "raw_names": list(raw_names),
        "normalized_names": list(normalized_names),
        "temp_ids": list(temp_ids),
        "skip_failed": skip_failed,
    }
    return conn.execute(Q["enqueue"], params).rowcount


@dataclass(frozen=True)
class Recorded:
    queued: int  # names queued now
    seen: int  # requests that gained rows


def record_waiting(
    conn: psycopg.Connection,
    raw_names: Sequence[str],
    normalized_names: Sequence[str],
    temp_ids: Sequence[str | None],
    rows: Sequence[int],
    *,
    queue: bool,
    skip_failed: bool,
) -> Recorded:
    """A resolve's names left with temporary IDs: new ones queued, all with their rows.

    One statement (sql/queries/queue.sql, record_waiting), in the caller's
    transaction (it sets two of its settings: SET LOCAL); names are distinct.
    """
    params = {
        "raw_names": list(raw_names),
        "normalized_names": list(normalized_names),
        "temp_ids": list(temp_ids),
        "rows": list(rows),
        "queue": queue,
        "skip_failed": skip_failed,
    }
    conn.execute(Q["small_statement_settings"])
    with conn.cursor(row_factory=class_row(Recorded)) as cur:
        found = cur.execute(Q["record_waiting"], params).fetchone()
    assert found is not None  # aggregates always return a row
    return found


@dataclass(frozen=True)
class Request:
    id: int
    status: str
    attempts: int
    last_error: str | None
    resolved_company_id: str | None
    temp_id: str | None


def names_left_out(conn: psycopg.Connection, keys: list[str], *, skip_failed: bool) -> set[str]:
    """The names among `keys` that `enqueue` would not insert (open, or failed with skip_failed)."""
    if not keys:
        return set()
    params = {"keys": keys, "skip_failed": skip_failed}
    with conn.cursor(row_factory=dict_row) as cur:
        return {row["normalized_name"] for row in cur.execute(Q["names_left_out"], params)}


def request_of(conn: psycopg.Connection, key: str) -> Request | None:
    with conn.cursor(row_factory=class_row(Request)) as cur:
        return cur.execute(Q["request_of"], {"key": key}).fetchone()


def reclaim_stale(conn: psycopg.Connection, stale_after: int) -> int:
    return conn.execute(Q["reclaim_stale"], {"stale_after": stale_after}).rowcount


def heartbeat(conn: psycopg.Connection, workers: Sequence[str]) -> int:
    """Renew the claims of the rows these workers hold; returns how many."""
    return conn.execute(Q["heartbeat"], {"workers": list(workers)}).rowcount


def claim(conn: psycopg.Connection, batch: int, worker_id: str) -> list[Job]:
    """Claim up to `batch` ready rows for this worker, in id order."""
    return claim_with_answers(conn, batch, worker_id, None, 0)[0]


def claim_with_answers(
    conn: psycopg.Connection, batch: int, worker_id: str, provider: str | None, ttl: int
) -> tuple[list[Job], dict[str, Answer]]:
    """Claim rows as `claim` does, with the provider's ledger answers for their names.

    The answers are those `ledger.fresh(conn, provider, names, ttl)` would
    return (younger than `ttl` seconds; none for a TTL of 0), read by the
    same statement as the claim: the query's comment says how it stands in
    for the ledger's owner.
    """
    params = {"batch": batch, "worker_id": worker_id, "provider": provider, "ttl": ttl}
    jobs: list[Job] = []
    answers: dict[str, Answer] = {}
    for row in conn.execute(Q["claim"], params).fetchall():
        job_id, raw_name, key, temp_id, attempts, outcome, company_id, candidates = row
        jobs.append(Job(job_id, raw_name, key, temp_id, attempts))
        if outcome is not None and provider is not None:
            answers[key] = Answer(provider, key, outcome, company_id, candidates)
    jobs.sort(key=lambda job: job.id)
    return jobs, answers


def record_outcomes(
    conn: psycopg.Connection, outcomes: list[Outcome], worker_id: str, source: str
) -> int:
    """Record a batch's outcomes in one statement; returns the rows this worker still held.

    `source` (the provider's name) becomes the resolved_source of done rows.
    """
    if not outcomes:
        return 0
    params = _outcome_params(outcomes, worker_id, source)
    return len(conn.execute(Q["record_outcomes"], params).fetchall())


def _outcome_params(outcomes: Sequence[Outcome], worker_id: str, source: str) -> dict[str, object]:
    """A batch's outcomes as the parallel arrays record_outcomes and record_batch unnest."""
    return {
        "ids": [o.id for o in outcomes],
        "statuses": [o.status for o in outcomes],
        "attempted": [o.attempted for o in outcomes],
        "errors": [o.error for o in outcomes],
        "company_ids": [o.company_id for o in outcomes],
        "retry_in": [o.retry_in for o in outcomes],
        "worker_id": worker_id,
        "source": source,
    }


def record_batch(
    conn: psycopg.Connection,
    outcomes: Sequence[Outcome],
    answers: Sequence[Answer],
    learned: Sequence[Learned],
    worker_id: str,
    source: str,
) -> int:
    """A drain's record step in one statement; returns the rows this worker still held.

    Writes what `ledger.remember`, `companies.service.remember` (company_master
    and the name's mapping) and `record_outcomes` write, by the same rules;
    the query's comment says which CTE stands in for which table's owner. The
    caller takes `companies.repository.lock(conn, learned)` first, in the same
    transaction. `source` (the provider's name) is the ledger's provider, the
    companies' and mappings' source and the done rows' resolved_source.
    """
    name = levels.LEVELS[levels.NAME]
    params = {
        "answer_keys": [a.normalized_name for a in answers],
        "answer_outcomes": [a.outcome for a in answers],
        "answer_company_ids": [a.company_id for a in answers],
        "answer_candidates": [Jsonb(a.candidates) for a in answers],
        "learned_company_ids": [i.company_id for i in learned],
        "learned_official_names": [i.official_name for i in learned],
        "learned_codes": [i.unified_credit_code for i in learned],
        "learned_aliases": [i.raw_name for i in learned],
        "learned_keys": [i.normalized_name for i in learned],
        "match_type": name.match_type,
        "priority": name.priority,
        **_outcome_params(outcomes, worker_id, source),
    }
    row = conn.execute(Q["record_batch"], params).fetchone()
    assert row is not None  # an aggregate always returns a row
    return int(row[0])


def counts(conn: psycopg.Connection, stale_after: int) -> Counts:
    with conn.cursor(row_factory=class_row(Counts)) as cur:
        row = cur.execute(Q["counts"], {"stale_after": stale_after}).fetchone()
    assert row is not None  # an aggregate always returns a row
    return row


def common_errors(conn: psycopg.Connection, limit: int = 5) -> list[ErrorCount]:
    with conn.cursor(row_factory=class_row(ErrorCount)) as cur:
        return cur.execute(Q["common_errors"], {"limit": limit}).fetchall()


def retry(conn: psycopg.Connection, ids: list[int] | None) -> list[str]:
    """Failed rows back to pending; returns the names retried."""
    with conn.cursor(row_factory=dict_row) as cur:
        params = {"ids": ids, "no_company": REVIEW_NO_COMPANY}
        return [row["normalized_name"] for row in cur.execute(Q["retry"], params)]


def add_rows_seen(conn: psycopg.Connection, counts: Mapping[str, int]) -> None:
    """Each name's newest request gains the rows a resolve batch left with its temporary ID."""
    if counts:
        params = {"keys": list(counts), "counts": list(counts.values())}
        conn.execute(Q["add_rows_seen"], params)


def close_answered(conn: psycopg.Connection, answered: Mapping[str, str], source: str) -> int:
    """Pending requests of names a sync lookup answered (name -> company) become done."""
    if not answered:
        return 0
    params = {"keys": list(answered), "company_ids": list(answered.values()), "source": source}
    return conn.execute(Q["close_answered"], params).rowcount


def resolved(conn: psycopg.Connection, since: datetime | None) -> list[ResolvedRow]:
    with conn.cursor(row_factory=class_row(ResolvedRow)) as cur:
        return cur.execute(Q["resolved"], {"since": since}).fetchall()


def purge_done(conn: psycopg.Connection, days: int) -> int:
    return conn.execute(Q["purge_done"], {"days": days}).rowcount


REVIEW_NO_COMPANY = "review: no company"  # last_error of a request a person said has none


def record_reviews(
    conn: psycopg.Connection,
    ids: Sequence[int],
    company_ids: Sequence[str | None],
    *,
    source: str,
) -> int:
    """Record a person's decisions in one statement; returns the rows changed.

    A company sets the request done with it (resolved_source = `source`);
    None keeps it failed with REVIEW_NO_COMPANY. Only failed requests change.
    """
    if not ids:
        return 0
    params = {
        "ids": list(ids),
        "company_ids": list(company_ids),
        "source": source,
        "no_company": REVIEW_NO_COMPANY,
    }
    return conn.execute(Q["record_reviews"], params).rowcount
