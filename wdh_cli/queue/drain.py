"""`wdh queue drain`: claim ready rows, ask the provider, record the results.

Take back stale rows; claim a batch with one FOR UPDATE SKIP LOCKED
statement and commit; ask the provider about its names outside any
transaction; record the whole batch's outcomes (and what was learned) in one
transaction. Any number of drains may run at once against one database, and
one drain runs `concurrency` workers, each a thread with its own connection
from one pool, sharing the provider and the claimed rows (see `_Crew`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from wdh_cli.companies.repository import Learned, unstorable
from wdh_cli.companies.repository import lock as company_locks
from wdh_cli.config import POOL_MAX_CAP, Settings
from wdh_cli.db import Database
from wdh_cli.db.errors import about_the_rows, translate
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.ledger.answers import Answer, answer_of
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.progress import Progress
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
    progress: Progress | None = None,
) -> DrainReport:
    """`wdh queue drain`: open the provider (a drain needs one), drain, close it.

    `progress`: rows claimed and recorded, of the rows ready when it started
    (within --limit; more if more become ready meanwhile); with --follow
    there is no total.
    """
    with db.connect() as conn:  # a drain writes ledger answers and name mappings
        require_current_rules(conn)
        ready = None if progress is None or options.follow else _claimable(conn, options)[0]
    provider = open_provider(settings, requested, required_by="a drain")
    assert provider is not None  # required_by turns "none" into an error
    on_batch = None
    if progress is not None:
        progress(0, ready)

        def on_batch(report: DrainReport) -> None:
            done = report.claimed
            progress(done, None if ready is None else max(ready, done))

    try:
        return drain(db, provider, options, stop=stop, on_batch=on_batch)
    finally:
        provider.close()


def plan(db: Database, options: DrainOptions) -> DrainReport:
    """What a drain would do now, claiming nothing."""
    with db.connect() as conn:
        claimable, stale = _claimable(conn, options)
    return DrainReport(
        claimed=claimable,
        reclaimed=stale,
        concurrency=options.concurrency,
        plan_only=True,
    )


def _claimable(conn: psycopg.Connection, options: DrainOptions) -> tuple[int, int]:
    """(rows a drain would claim now: ready or stale, within --limit; the stale ones)."""
    counts = repository.counts(conn, options.stale_after)
    ready = counts.ready + counts.stale
    return (ready if options.limit is None else min(ready, options.limit)), counts.stale


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

    `options.concurrency` workers, each a thread with its own connection of
    one pool, share the provider (which must be safe to share) and the
    claimed rows: a batch's names go to whichever worker is free, so N
    workers ask about N names at once whatever the batch size (`_Crew`).
    The first failure of any worker (a 401, a database error) stops the
    others, which finish the name they are asking and hand back the unasked
    rows; it is raised here once every worker has finished. `on_batch` gets
    the combined figures after each batch is recorded, one call at a time.
    """
    stop = stop or StopFlag()
    base = worker_id or new_worker_id()
    count = options.concurrency
    report = DrainReport(concurrency=count)
    crew = _Crew(db, provider, options, report, stop, on_batch)
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
                    args=(pool, worker),
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
            crew.record_leftovers()
            done.set()
            beat.join()
            if crew.error is not None:
                raise crew.error
    finally:
        report.api_calls = provider.calls - calls_before
        report.stopped_by = stop.signal_name
    return report


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


@dataclass(slots=True)
class _Settled:
    """What became of one claimed row: its outcome, the figure it counts in, what to remember."""

    outcome: Outcome
    figure: str  # the DrainReport figure: resolved, no_match, retried, failed or handed_back
    answer: Answer | None = None  # a new definitive answer, for the ledger
    learned: Learned | None = None  # the accepted company
    remembered: bool = False  # settled by the ledger's answer, with no call


@dataclass(eq=False)
class _Batch:
    """The rows of one claim: asked by any of the workers, recorded together."""

    worker: str  # the worker_id the rows were claimed under (the record step checks it)
    jobs: list[Job]
    settled: list[_Settled | None]
    left: int  # rows not settled yet


class _Crew:
    """The workers of one drain and what they share, behind one lock (a Condition).

    Claimed rows wait in `_todo`, whatever batch they came from, and a free
    worker takes the next one: N workers ask about N names at once, even when
    one batch holds every ready row. One worker claims at a time, and only
    when no claimed row is waiting, so rows are claimed as workers need them.
    A batch is recorded (in one transaction, as one claim's rows) by the
    worker that settles its last row, under the worker_id it was claimed with.

    A claim that finds nothing while batches are still being asked waits for
    one of them to be recorded and claims again (a retry may be ready at
    once); when nothing is being asked either, the drain ends (without
    --follow) or polls every WDH_QUEUE_POLL_INTERVAL seconds (with it).

    The lock also guards the combined report, the rows left to claim under
    --limit and the time of the next stale-row sweep. Nothing slow happens
    under it.
    """

    def __init__(
        self,
        db: Database,
        provider: Provider,
        options: DrainOptions,
        report: DrainReport,
        stop: StopFlag,
        on_batch: Callable[[DrainReport], None] | None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.options = options
        self.report = report
        self.stop = stop
        self.on_batch = on_batch
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._todo: deque[tuple[_Batch, int]] = deque()  # claimed rows nobody asks yet
        self._open: set[_Batch] = set()  # claimed, not recorded yet
        self._claiming = False  # a worker is claiming: the others wait for its rows
        self._recorded = 0  # batches recorded so far
        self._dry_at: int | None = None  # _recorded when a claim last found nothing
        self._next_claim = 0.0  # no claim before this time (--follow's poll)
        self._finished = False  # no more claims: nothing ready, or --limit reached
        self._unclaimed = options.limit  # None: no limit
        # Looking for stale rows costs a round trip and a commit; once per
        # interval (and at the start) is enough, since a row only goes stale
        # after stale_after seconds anyway.
        self._reclaim_every = max(1.0, min(options.stale_after / 2, 60.0))
        self._next_reclaim = 0.0
        self._halt = threading.Event()  # a worker failed: the others stop

    def work(self, pool: ConnectionPool, worker: str) -> None:
        """One worker thread: take a row (claiming when none waits), ask, record full batches."""
        try:
            with pool.connection() as conn:
                while (taken := self._next(conn, worker)) is not None:
                    batch, index = taken
                    job = batch.jobs[index]
                    try:
                        settled = self._ask(job)
                    except BaseException:  # a bug, not an answer: the row goes back unasked
                        self._settle(conn, batch, index, _handed_back(job))
                        raise
                    self._settle(conn, batch, index, settled)
        except BaseException as exc:  # raised by drain() in the main thread
            self._fail(exc)

    def record_leftovers(self) -> None:
        """Once every worker has ended: record what none of them could (a worker
        died with claimed rows waiting), the unasked rows handed back."""
        for batch in list(self._open):
            for index, settled in enumerate(batch.settled):
                if settled is None:
                    batch.settled[index] = _handed_back(batch.jobs[index])
            try:
                with self.db.connect(autocommit=True) as conn:
                    self._record(conn, batch)
            except Exception as exc:  # the rows wait for the stale time
                log.debug("could not record a batch left over", exc_info=True)
                self._fail(exc)

    def _stopping(self) -> bool:
        return self.stop.requested or self._halt.is_set()

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            if self.error is None:
                self.error = exc
            self._halt.set()
            self._cond.notify_all()

    def _next(self, conn: psycopg.Connection, worker: str) -> tuple[_Batch, int] | None:
        """The next claimed row to ask about, claiming a batch when none waits; None: stop."""
        while True:
            with self._cond:
                if self._stopping():
                    emptied = self._hand_back_waiting()
                    break
                if self._todo:
                    return self._todo.popleft()
                wait = self._claim_wait()
                if wait is None:
                    return None
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                size = self._reserve()
                if size <= 0:
                    self._finished = True
                    self._cond.notify_all()
                    return None
                self._claiming = True
            self._claim(conn, worker, size)
        for batch in emptied:
            self._record(conn, batch)
        return None

    def _claim_wait(self) -> float | None:
        """Under the lock, with no row waiting: seconds to wait before claiming (0: claim now),
        or None when this drain claims no more."""
        if self._claiming:
            return 0.25  # its rows are coming; a stop is seen within a quarter of a second
        if self._finished:
            return None
        if self._dry_at == self._recorded and self._open:
            return 0.25  # nothing was ready: claim again once a batch is recorded
        left = self._next_claim - time.monotonic()
        return min(left, 0.25) if left > 0 else 0.0

    def _reserve(self) -> int:
        """Under the lock: how many rows to claim now, a batch or what --limit leaves."""
        if self._unclaimed is None:
            return self.options.batch
        size = min(self.options.batch, self._unclaimed)
        self._unclaimed -= size
        return size

    def _claim(self, conn: psycopg.Connection, worker: str, size: int) -> None:
        """Claim a batch (taking stale rows back first when due) and hand out its rows.

        The connection is in autocommit: each statement is its own
        transaction, committed as it returns, in one round trip. The claim
        brings the ledger's fresh answers for the claimed names along; the
        rows they settle need no call.
        """
        options = self.options
        reclaimed = 0
        jobs: list[Job] | None = None
        batch: _Batch | None = None
        try:
            if self._reclaim_due():
                reclaimed = repository.reclaim_stale(conn, options.stale_after)
            jobs, remembered = repository.claim_with_answers(
                conn, size, worker, self.provider.name, options.lookup_ttl
            )
            if jobs:
                settled: list[_Settled | None] = [None] * len(jobs)
                for index, job in enumerate(jobs):
                    answer = remembered.get(job.normalized_name)
                    if answer is not None:
                        settled[index] = _conclude(job, answer, 0, options, remembered=True)
                left = settled.count(None)
                batch = _Batch(worker, jobs, settled, left)
        finally:
            with self._cond:
                self._claiming = False
                self.report.reclaimed += reclaimed
                if self._unclaimed is not None:
                    self._unclaimed += size - len(jobs or ())
                if batch is not None:
                    self._open.add(batch)
                    self._dry_at = None
                    unsettled = (i for i, s in enumerate(batch.settled) if s is None)
                    self._todo.extend((batch, index) for index in unsettled)
                elif jobs is not None:  # the claim found nothing ready
                    if self._open:
                        self._dry_at = self._recorded
                    elif options.follow:
                        self._next_claim = time.monotonic() + options.poll_interval
                    else:
                        self._finished = True
                self._cond.notify_all()
        if batch is not None and batch.left == 0:  # all settled by the ledger
            self._record(conn, batch)

    def _reclaim_due(self) -> bool:
        with self._cond:
            now = time.monotonic()
            if now < self._next_reclaim:
                return False
            self._next_reclaim = now + self._reclaim_every
            return True

    def _ask(self, job: Job) -> _Settled:
        """Ask about one claimed row (no lock, no transaction); a 401 stops the drain."""
        try:
            return _ask(self.provider, job, self.options)
        except ProviderAuthError as exc:
            self._fail(exc)
            return _handed_back(job)

    def _settle(
        self, conn: psycopg.Connection, batch: _Batch, index: int, settled: _Settled
    ) -> None:
        """Keep a row's result; the worker that settles a batch's last row records the batch."""
        with self._cond:
            batch.settled[index] = settled
            batch.left -= 1
            complete = batch.left == 0
        if complete:
            self._record(conn, batch)

    def _hand_back_waiting(self) -> list[_Batch]:
        """Under the lock, on a stop: every waiting row is handed back unasked; returns the
        batches that this settled completely (the caller records them)."""
        complete = []
        while self._todo:
            batch, index = self._todo.popleft()
            batch.settled[index] = _handed_back(batch.jobs[index])
            batch.left -= 1
            if batch.left == 0:
                complete.append(batch)
        return complete

    def _record(self, conn: psycopg.Connection, batch: _Batch) -> None:
        """Record a settled batch and add its figures; raise what stops the drain, if anything."""
        entries = [settled for settled in batch.settled if settled is not None]
        held, entries, error = _store(conn, self.db, batch.worker, entries, self.provider.name)
        tally = DrainReport(claimed=len(batch.jobs), lost=len(entries) - held)
        for entry in entries:
            setattr(tally, entry.figure, getattr(tally, entry.figure) + 1)
            tally.ledger_hits += entry.remembered
        with self._cond:
            self._open.discard(batch)
            self._recorded += 1
            self.report.add(tally)
            # on_batch runs under the lock: it sees figures no other worker
            # is changing, and never two calls at once.
            if self.on_batch is not None:
                self.on_batch(self.report)
            self._cond.notify_all()
        if error is not None:
            raise error


def _ask(provider: Provider, job: Job, options: DrainOptions) -> _Settled:
    """Ask the provider about one name; ProviderAuthError is the caller's."""
    try:
        candidates = provider.search(job.raw_name)
    except ProviderAuthError:
        raise
    except ProviderError as exc:
        if exc.transient:
            return _retry_or_fail(job, exc.message, options)
        # A refusal that asking again would not change.
        return _Settled(Outcome(job.id, "failed", attempted=1, error=exc.message), "failed")
    answer = answer_of(provider.name, job.normalized_name, candidates, options.min_confidence)
    return _conclude(job, answer, 1, options)


def _conclude(
    job: Job, answer: Answer, attempted: int, options: DrainOptions, *, remembered: bool = False
) -> _Settled:
    """The outcome of a definitive answer: done with its company, or failed with the reason.

    A new answer (not `remembered`) goes to the ledger with its row's outcome.
    """
    new = None if remembered else answer
    accepted = answer.accepted()
    if accepted is None:
        reason = answer.reason(options.min_confidence)
        outcome = Outcome(job.id, "failed", attempted=attempted, error=reason)
        return _Settled(outcome, "no_match", answer=new, remembered=remembered)
    problem = unstorable(accepted)
    if problem is not None and not remembered:
        # wdh's providers never answer so (they vet what they parse); from
        # another one it is a broken answer: asked again later, not remembered.
        reason = f"the provider answered with a company that cannot be stored: {problem}"
        return _retry_or_fail(job, reason, options)
    if problem is not None:  # a ledger answer remembered before the rule it breaks
        reason = f"the provider's answer cannot be stored: {problem}"
        outcome = Outcome(job.id, "failed", attempted=attempted, error=reason)
        return _Settled(outcome, "failed", remembered=remembered)
    learned = Learned(
        job.raw_name,
        job.normalized_name,
        accepted.company_id,
        accepted.official_name,
        accepted.unified_credit_code,
    )
    outcome = Outcome(job.id, "done", attempted=attempted, company_id=accepted.company_id)
    return _Settled(outcome, "resolved", answer=new, learned=learned, remembered=remembered)


def _retry_or_fail(job: Job, error: str, options: DrainOptions) -> _Settled:
    """A transient error: back to pending after a backoff, or failed after max attempts."""
    attempts = job.attempts + 1
    if attempts >= options.max_attempts:
        outcome = Outcome(job.id, "failed", attempted=1, error=f"{error} (attempt {attempts})")
        return _Settled(outcome, "failed")
    delay = options.backoff[min(job.attempts, len(options.backoff) - 1)]
    outcome = Outcome(job.id, "pending", attempted=1, error=error, retry_in=float(delay))
    return _Settled(outcome, "retried")


def _handed_back(job: Job) -> _Settled:
    """Back to pending unasked: attempts and last_error unchanged, ready at once."""
    return _Settled(Outcome(job.id, "pending", attempted=0), "handed_back")


def _store(
    conn: psycopg.Connection, db: Database, worker: str, entries: list[_Settled], source: str
) -> tuple[int, list[_Settled], BaseException | None]:
    """Record a batch: (rows still held, the entries as recorded, the error that stops the drain).

    A database error never leaves the batch's rows `processing` while the
    database can be reached (docs/queue.md, "When the record step fails"):

    - an error about what was written (a value, a constraint, a collision
      with another session): the batch is recorded in parts, and a row
      that cannot be recorded alone fails with the reason (`_store_in_parts`);
    - a lost connection: the batch is recorded on a new one, and the error
      stops the drain;
    - any other error (a privilege, a full disk, a read-only server), which
      every batch would meet: the rows are handed back, and it stops the drain.

    Only when the database cannot be reached at all do the rows wait for the
    stale time.
    """
    try:
        held, entries = _store_in_parts(conn, worker, entries, source)
        return held, entries, None
    except psycopg.Error as exc:
        error: BaseException = exc
    if conn.broken or conn.closed:
        try:
            with db.connect(autocommit=True) as fresh:
                held, entries = _store_in_parts(fresh, worker, entries, source)
            return held, entries, error
        except Exception:
            log.debug("could not record a batch on a new connection", exc_info=True)
            return 0, entries, error
    back = [_Settled(Outcome(e.outcome.id, "pending", attempted=0), "handed_back") for e in entries]
    try:
        return _write(conn, worker, back, source), back, error
    except psycopg.Error:
        log.debug("could not hand a batch back", exc_info=True)
        return 0, entries, error


def _store_in_parts(
    conn: psycopg.Connection, worker: str, entries: list[_Settled], source: str
) -> tuple[int, list[_Settled]]:
    """Write the entries; on an error about what was written, write each half on its own.

    A row that still fails alone is recorded as failed, with the database's
    reason and without its answer; the rest of the batch is recorded. One bad
    row among n costs about 2 log2(n) more statements. Other errors are raised.
    """
    try:
        return _write(conn, worker, entries, source), entries
    except (psycopg.Error, UnicodeEncodeError) as exc:
        if isinstance(exc, psycopg.Error) and (conn.broken or not about_the_rows(exc)):
            raise
        if len(entries) == 1:
            entry = entries[0]
            if entry.answer is None and entry.learned is None:
                raise  # its outcome alone: nothing smaller to try
            if isinstance(exc, psycopg.Error):
                why = translate(exc, target="").message
            else:
                why = "text the database cannot store"
            reason = f"its answer could not be recorded: {why}"
            outcome = Outcome(entry.outcome.id, "failed", entry.outcome.attempted, error=reason)
            alone = [_Settled(outcome, "failed", remembered=entry.remembered)]
            return _write(conn, worker, alone, source), alone
    half = len(entries) // 2
    held_first, first = _store_in_parts(conn, worker, entries[:half], source)
    held_second, second = _store_in_parts(conn, worker, entries[half:], source)
    return held_first + held_second, first + second


def _write(conn: psycopg.Connection, worker: str, entries: list[_Settled], source: str) -> int:
    """The entries' outcomes, learned companies and new answers, in one transaction.

    Two statements: the advisory locks of the learned companies, then every
    write in one statement (record_batch). Pipeline mode sends them, with
    BEGIN and COMMIT, in one round trip. Entries that learned no company
    take no lock: their one statement runs alone (autocommit), its own
    transaction. Returns the rows this worker still held.
    """
    outcomes = [entry.outcome for entry in entries]
    answers = [entry.answer for entry in entries if entry.answer is not None]
    learned = [entry.learned for entry in entries if entry.learned is not None]
    if not learned:
        return repository.record_batch(conn, outcomes, answers, [], worker, source)
    with conn.pipeline(), conn.transaction():
        company_locks(conn, learned)
        return repository.record_batch(conn, outcomes, answers, learned, worker, source)
