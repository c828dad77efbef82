"""`wdh queue drain`: claim ready rows, ask the provider, record the results.

Each round: take back stale rows; claim a batch with one FOR UPDATE SKIP
LOCKED statement and commit; ask the provider outside any transaction;
record the whole batch's outcomes (and what was learned) in one transaction.
Any number of drains may run at once against one database, and one drain
runs `concurrency` such workers, each a thread with its own connection from
one pool, sharing the provider.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import ConnectionPool

from wdh_cli.companies.repository import Learned, unstorable
from wdh_cli.companies.repository import lock as company_locks
from wdh_cli.config import POOL_MAX_CAP, Settings
from wdh_cli.db import Database
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.ledger.answers import Answer, answer_of
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.providers.base import Provider, ProviderAuthError, ProviderError
from wdh_cli.providers.names import ProviderName
from wdh_cli.providers.registry import open_provider
from wdh_cli.queue import repository
from wdh_cli.queue.repository import Job, Outcome

log = logging.getLogger(__name__)


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
    concurrency: int = 1  # worker threads, each on its own connection

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("a drain needs at least one worker")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        batch: int = 50,
        limit: int | None = None,
        follow: bool = False,
        concurrency: int = 1,
    ) -> DrainOptions:
        if not 1 <= concurrency <= POOL_MAX_CAP:
            raise UsageError(f"--concurrency {concurrency}: expected 1 to {POOL_MAX_CAP}")
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
            concurrency=concurrency,
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
    concurrency: int = 1  # worker threads of the drain
    plan_only: bool = False
    stopped_by: str | None = None

    def add(self, other: DrainReport) -> None:
        """Add another report's figures (one batch's, from one worker) to these."""
        for name in _FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# The figures that add up across batches and workers.
_FIGURES = (
    "claimed",
    "resolved",
    "no_match",
    "retried",
    "failed",
    "reclaimed",
    "api_calls",
    "ledger_hits",
    "handed_back",
    "lost",
)


def run(
    settings: Settings,
    db: Database,
    requested: ProviderName | None,
    options: DrainOptions,
    *,
    stop: StopFlag | None = None,
) -> DrainReport:
    """`wdh queue drain`: open the provider (a drain needs one), drain, close it."""
    with db.connect() as conn:  # a drain writes ledger answers and name mappings
        require_current_rules(conn)
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
    return DrainReport(
        claimed=claimable,
        reclaimed=counts.stale,
        concurrency=options.concurrency,
        plan_only=True,
    )


def drain(
    db: Database,
    provider: Provider,
    options: DrainOptions,
    *,
    stop: StopFlag | None = None,
    worker_id: str | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
) -> DrainReport:
    """Work until nothing is ready (or `limit` rows are claimed, or a stop is asked).

    `options.concurrency` workers run the claim -> ask -> record loop at once,
    each in its own thread on its own connection of one pool, sharing the
    provider (which must be safe to share). The first failure of any worker
    (a 401, a database error) stops the others, which finish the name they
    are asking and hand back their unasked rows; it is raised here once every
    worker has finished. `on_batch` gets the combined figures after each
    batch, called from the worker that recorded it, one call at a time.
    """
    stop = stop or StopFlag()
    base = worker_id or new_worker_id()
    count = options.concurrency
    report = DrainReport(concurrency=count)
    crew = _Crew(options, report, on_batch)
    calls_before = provider.calls
    workers = [_worker_name(base, number, count) for number in range(1, count + 1)]
    try:
        with db.pool(size=count, autocommit=True) as pool:
            done = threading.Event()
            beat = threading.Thread(
                target=_heartbeat,
                args=(db, workers, max(0.2, options.stale_after / 3), done),
                name="wdh-drain-heartbeat",
                daemon=True,
            )
            beat.start()
            threads = [
                # Daemon threads: a second signal ends the process at once,
                # without waiting for a worker in the middle of a lookup.
                threading.Thread(
                    target=crew.work,
                    args=(pool, provider, stop, worker),
                    name=f"wdh-drain-{number}",
                    daemon=True,
                )
                for number, worker in enumerate(workers, start=1)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    # A timed join returns to the interpreter regularly, so the
                    # signal handlers (main thread only) run without delay.
                    thread.join(0.5)
            done.set()
            beat.join()
            if crew.error is not None:
                raise crew.error
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


def _heartbeat(db: Database, workers: list[str], every: float, done: threading.Event) -> None:
    """Renew this drain's claims until it ends, so a slow batch is never taken as stale.

    Its own connection, named apart from the workers' in pg_stat_activity. A
    failure ends the heartbeat quietly: the workers meet the same database
    and report it; at worst their rows are reclaimed after the stale time.
    """
    try:
        with db.connect(autocommit=True, purpose="drain heartbeat") as conn:
            while not done.wait(every):
                repository.heartbeat(conn, workers)
    except Exception:
        log.debug("drain heartbeat stopped", exc_info=True)


def _worker_name(base: str, number: int, count: int) -> str:
    """The worker_id a worker claims rows under: the drain's own when it works alone."""
    return base if count == 1 else f"{base[:95]}/{number}"


class _Crew:
    """What the workers of one drain share, behind one lock.

    The lock guards the combined report (`+=` from several threads would
    lose updates), the rows left to claim under --limit (a check-then-claim
    without it would let two workers both take the last rows), and the time of
    the next stale-row sweep (one sweep per interval for the whole drain, not
    one per worker). Nothing slow happens under it.
    """

    def __init__(
        self,
        options: DrainOptions,
        report: DrainReport,
        on_batch: Callable[[DrainReport], None] | None,
    ) -> None:
        self.options = options
        self.report = report
        self.on_batch = on_batch
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._unclaimed = options.limit  # None: no limit
        # Looking for stale rows costs a round trip and a commit; once per
        # interval (and at the start) is enough, since a row only goes stale
        # after stale_after seconds anyway.
        self._reclaim_every = max(1.0, min(options.stale_after / 2, 60.0))
        self._next_reclaim = 0.0
        self._halt = threading.Event()  # a worker failed: the others stop

    def work(self, pool: ConnectionPool, provider: Provider, stop: StopFlag, worker: str) -> None:
        """One worker thread: the claim -> ask -> record loop on one pooled connection."""
        try:
            with pool.connection() as conn:
                self._loop(conn, provider, stop, worker)
        except BaseException as exc:  # raised by drain() in the main thread
            with self._lock:
                if self.error is None:
                    self.error = exc
            self._halt.set()

    def _loop(
        self, conn: psycopg.Connection, provider: Provider, stop: StopFlag, worker: str
    ) -> None:
        options = self.options

        def stopping() -> bool:
            return stop.requested or self._halt.is_set()

        while not stopping():
            size = self._reserve(options.batch)
            if size <= 0:
                break
            tally = DrainReport()
            # The connection is in autocommit: each of these single statements
            # is its own transaction, committed as it returns, in one round trip
            # (BEGIN and COMMIT around it would cost two more). The claim brings
            # the ledger's fresh answers for the claimed names along.
            if self._reclaim_due():
                tally.reclaimed = repository.reclaim_stale(conn, options.stale_after)
            jobs, remembered = repository.claim_with_answers(
                conn, size, worker, provider.name, options.lookup_ttl
            )
            self._release(size - len(jobs))
            if not jobs:
                self._add(tally, batch=False)
                if options.follow and not self._idle(stopping, stop):
                    continue
                break
            tally.claimed = len(jobs)
            asked = _ask(provider, jobs, options, stopping, tally, remembered)
            _record(conn, asked, worker, provider.name, tally)
            self._add(tally, batch=True)
            if asked.auth_error is not None:
                raise asked.auth_error

    def _reserve(self, batch: int) -> int:
        """How many rows this worker may claim now: a batch, or what --limit leaves."""
        with self._lock:
            if self._unclaimed is None:
                return batch
            size = min(batch, self._unclaimed)
            self._unclaimed -= size
            return size

    def _release(self, unused: int) -> None:
        """Give back the part of a reservation the claim did not find rows for."""
        with self._lock:
            if self._unclaimed is not None:
                self._unclaimed += unused

    def _reclaim_due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._next_reclaim:
                return False
            self._next_reclaim = now + self._reclaim_every
            return True

    def _add(self, tally: DrainReport, *, batch: bool) -> None:
        # on_batch runs under the lock too: it sees figures no other worker
        # is changing, and never two calls at once.
        with self._lock:
            self.report.add(tally)
            if batch and self.on_batch is not None:
                self.on_batch(self.report)

    def _idle(self, stopping: Callable[[], bool], stop: StopFlag) -> bool:
        """Wait for new work (--follow) up to the poll interval; True if the drain stops."""
        deadline = time.monotonic() + self.options.poll_interval
        while not stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # A signal wakes the wait at once; another worker's failure is
            # seen within a quarter of a second.
            stop.wait(min(left, 0.25))
        return True


def _ask(
    provider: Provider,
    jobs: list[Job],
    options: DrainOptions,
    stopping: Callable[[], bool],
    report: DrainReport,
    remembered: dict[str, Answer],
) -> _Asked:
    """Settle each job: from the ledger when it remembers the name, else by asking the provider.

    Runs outside any transaction. A remembered answer costs no call; on a stop
    the rest is handed back unasked.
    """
    asked = _Asked()
    for job in jobs:
        if stopping() or asked.auth_error is not None:
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

    Two statements: the advisory locks of the learned companies, then every
    write in one statement (record_batch). Pipeline mode sends them, with
    BEGIN and COMMIT, in one round trip. A batch that learned no company
    takes no lock: its one statement runs alone (autocommit), its own
    transaction.
    """
    if not asked.learned:
        held = repository.record_batch(conn, asked.outcomes, asked.answers, [], worker, source)
    else:
        with conn.pipeline(), conn.transaction():
            company_locks(conn, asked.learned)
            held = repository.record_batch(
                conn, asked.outcomes, asked.answers, asked.learned, worker, source
            )
    report.lost += len(asked.outcomes) - held
