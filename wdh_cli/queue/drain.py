"""`wdh queue drain`: claim ready rows, ask the provider, record the results.

Each round: take back stale rows; claim a batch with one FOR UPDATE SKIP
LOCKED statement and commit; ask the provider outside any transaction;
record the whole batch's outcomes (and what was learned) in one transaction.
Any number of drains may run at once against one database.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from wdh_cli.companies import service as companies
from wdh_cli.companies.repository import Learned, unstorable
from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import Answer, answer_of
from wdh_cli.providers.base import Provider, ProviderAuthError, ProviderError
from wdh_cli.providers.registry import ProviderName, open_provider
from wdh_cli.queue import repository
from wdh_cli.queue.repository import Job, Outcome
from wdh_cli.queue.signals import StopFlag


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:100]


@dataclass(frozen=True)
class DrainOptions:
    """How a drain works. The queue's timings come from the settings (`from_settings`)."""

    batch: int
    limit: int | None
    follow: bool
    max_attempts: int
    backoff: tuple[int, ...]
    stale_after: int
    poll_interval: float
    min_confidence: float
    lookup_ttl: int = 0  # seconds a ledger answer is reused instead of asking again

    @classmethod
    def from_settings(
        cls, settings: Settings, *, batch: int = 50, limit: int | None = None, follow: bool = False
    ) -> DrainOptions:
        return cls(
            batch=batch,
            limit=limit,
            follow=follow,
            max_attempts=settings.queue_max_attempts,
            backoff=tuple(settings.backoff_seconds),
            stale_after=settings.queue_stale_after,
            poll_interval=float(settings.queue_poll_interval),
            min_confidence=settings.eqc_min_confidence,
            lookup_ttl=settings.lookup_ttl,
        )


@dataclass
class DrainReport:
    claimed: int = 0
    resolved: int = 0
    no_match: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0
    api_calls: int = 0
    ledger_hits: int = 0  # jobs settled by a remembered answer: no call
    handed_back: int = 0
    lost: int = 0  # outcomes not recorded: the row was taken back as stale meanwhile
    plan_only: bool = False
    stopped_by: str | None = None


def run(
    settings: Settings,
    db: Database,
    requested: ProviderName | None,
    options: DrainOptions,
    *,
    stop: StopFlag | None = None,
) -> DrainReport:
    """`wdh queue drain`: open the provider (a drain needs one), drain, close it."""
    provider = open_provider(settings, requested, required_by="a drain")
    assert provider is not None  # required_by turns "none" into an error
    try:
        return drain(db, provider, options, stop=stop)
    finally:
        provider.close()


def plan(db: Database, options: DrainOptions) -> DrainReport:
    """What a drain would do now, claiming nothing."""
    with db.connect() as conn:
        counts = repository.counts(conn, options.stale_after)
    ready = counts.ready + counts.stale
    claimable = ready if options.limit is None else min(ready, options.limit)
    return DrainReport(claimed=claimable, reclaimed=counts.stale, plan_only=True)


def drain(
    db: Database,
    provider: Provider,
    options: DrainOptions,
    *,
    stop: StopFlag | None = None,
    worker_id: str | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
) -> DrainReport:
    """Work until nothing is ready (or `limit` rows are done, or a stop is asked)."""
    stop = stop or StopFlag()
    worker = worker_id or new_worker_id()
    report = DrainReport()
    calls_before = provider.calls
    # Looking for stale rows costs a round trip and a commit; once per
    # interval (and at the start) is enough, since a row only goes stale after
    # stale_after seconds anyway.
    reclaim_every = max(1.0, min(options.stale_after / 2, 60.0))
    next_reclaim = 0.0
    try:
        with db.connect(autocommit=True) as conn:
            while not stop.requested:
                size = options.batch
                if options.limit is not None:
                    size = min(size, options.limit - report.claimed)
                    if size <= 0:
                        break
                if time.monotonic() >= next_reclaim:
                    with conn.transaction():
                        report.reclaimed += repository.reclaim_stale(conn, options.stale_after)
                    next_reclaim = time.monotonic() + reclaim_every
                with conn.transaction():
                    jobs = repository.claim(conn, size, worker)
                if not jobs:
                    if options.follow and not stop.wait(options.poll_interval):
                        continue
                    break
                report.claimed += len(jobs)
                remembered = ledger.fresh(
                    conn, provider.name, [job.normalized_name for job in jobs], options.lookup_ttl
                )
                asked = _ask(provider, jobs, options, stop, report, remembered)
                _record(conn, asked, worker, provider.name, report)
                if on_batch is not None:
                    on_batch(report)
                if asked.auth_error is not None:
                    raise asked.auth_error
    finally:
        report.api_calls = provider.calls - calls_before
        report.stopped_by = stop.signal_name
    return report


@dataclass
class _Asked:
    """What asking about one batch gave: its outcomes, and what to remember."""

    outcomes: list[Outcome] = field(default_factory=list)
    learned: list[Learned] = field(default_factory=list)  # accepted companies
    answers: list[Answer] = field(default_factory=list)  # new definitive answers (the ledger)
    auth_error: ProviderAuthError | None = None


def _ask(
    provider: Provider,
    jobs: list[Job],
    options: DrainOptions,
    stop: StopFlag,
    report: DrainReport,
    remembered: dict[str, Answer],
) -> _Asked:
    """Settle each job: from the ledger when it remembers the name, else by asking the provider.

    Runs outside any transaction. A remembered answer costs no call.
    """
    asked = _Asked()
    for job in jobs:
        if stop.requested or asked.auth_error is not None:
            asked.outcomes.append(Outcome(job.id, "pending", attempted=0))
            report.handed_back += 1
            continue
        answer = remembered.get(job.normalized_name)
        if answer is not None:
            report.ledger_hits += 1
            asked.outcomes.append(_conclude(job, answer, 0, options, report, asked))
            continue
        try:
            candidates = provider.search(job.raw_name)
        except ProviderAuthError as exc:
            asked.auth_error = exc
            asked.outcomes.append(Outcome(job.id, "pending", attempted=0))
            report.handed_back += 1
            continue
        except ProviderError as exc:
            if exc.transient:
                asked.outcomes.append(_retry_or_fail(job, exc.message, options, report))
            else:  # asking again would get the same refusal
                asked.outcomes.append(Outcome(job.id, "failed", attempted=1, error=exc.message))
                report.failed += 1
            continue
        answer = answer_of(provider.name, job.normalized_name, candidates, options.min_confidence)
        asked.answers.append(answer)
        asked.outcomes.append(_conclude(job, answer, 1, options, report, asked))
    return asked


def _conclude(
    job: Job,
    answer: Answer,
    attempted: int,
    options: DrainOptions,
    report: DrainReport,
    asked: _Asked,
) -> Outcome:
    """The outcome of a definitive answer: done with its company, or failed with the reason."""
    accepted = answer.accepted()
    if accepted is None:
        report.no_match += 1
        reason = answer.reason(options.min_confidence)
        return Outcome(job.id, "failed", attempted=attempted, error=reason)
    problem = unstorable(accepted)
    if problem is not None:  # one bad answer fails its row, not the batch
        report.failed += 1
        reason = f"the provider's answer cannot be stored: {problem}"
        return Outcome(job.id, "failed", attempted=attempted, error=reason)
    asked.learned.append(
        Learned(
            job.raw_name,
            job.normalized_name,
            accepted.company_id,
            accepted.official_name,
            accepted.unified_credit_code,
        )
    )
    report.resolved += 1
    return Outcome(job.id, "done", attempted=attempted, company_id=accepted.company_id)


def _retry_or_fail(job: Job, error: str, options: DrainOptions, report: DrainReport) -> Outcome:
    """A transient error: back to pending after a backoff, or failed after max attempts."""
    attempts = job.attempts + 1
    if attempts >= options.max_attempts:
        report.failed += 1
        return Outcome(job.id, "failed", attempted=1, error=f"{error} (attempt {attempts})")
    delay = options.backoff[min(job.attempts, len(options.backoff) - 1)]
    report.retried += 1
    return Outcome(job.id, "pending", attempted=1, error=error, retry_in=float(delay))


def _record(
    conn: psycopg.Connection, asked: _Asked, worker: str, source: str, report: DrainReport
) -> None:
    """The batch's outcomes, what was learned and the new answers, in one transaction.

    Pipeline mode sends the statements in one round trip: the ledger and
    company writes read nothing back, and fetching the outcome rows syncs them.
    """
    with conn.pipeline(), conn.transaction():
        ledger.remember(conn, source, asked.answers)
        companies.remember(conn, asked.learned, source)
        held = repository.record_outcomes(conn, asked.outcomes, worker, source)
    report.lost += len(asked.outcomes) - held
