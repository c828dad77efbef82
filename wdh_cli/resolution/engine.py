"""A resolve run: the five layers for a set of rows, each distinct key worked out once.

The rows stay where they are (a file read in passes, a frame, a table in
PostgreSQL) behind a `Rows` object, which does every per-row step in native
code; this module does the work per distinct key and name, in Python, and
the database work through the owners of each table:

1. names: every distinct name cell is normalized once (`normalize_name`);
2. layers 1 and 2 as the run starts: the YAML overrides, and the cache
   (`enterprise.company_mapping`) looked up once per level, set-based;
3. what the run learns: rows no override or stored mapping answers teach
   their existing ID's keys; a key taught two different IDs is a conflict
   and taught to nobody; the others are cached (backflow) and answer every
   row of the run that holds them;
4. every row is classified; rows left for layers 4 and 5 are counted per
   name: the provider is asked within the budget (the names holding most
   rows first, the ledger's fresh answers free), the rest get temporary IDs
   and are queued.

Answers therefore depend on the rows as a set: not on their order, nor on
how they are split into batches (docs/architecture.md, "The resolve engine";
the property tests in tests/integration/test_engine_properties.py hold it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar

import psycopg

from wdh_cli.companies import service as companies
from wdh_cli.companies.ids import company_id_problem
from wdh_cli.companies.repository import Learned, unstorable
from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.db.errors import translate
from wdh_cli.errors import DatabaseError, DatabaseUnavailable
from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import Answer, answer_of
from wdh_cli.mappings import repository as mappings
from wdh_cli.namekeys.service import require_current_rules
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate, Provider, ProviderAuthError, ProviderError
from wdh_cli.providers.registry import open_provider
from wdh_cli.queue import repository as queue
from wdh_cli.queue import service as queue_service
from wdh_cli.resolution.figures import ResolveStats
from wdh_cli.resolution.keys import KeyPlan, storable
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.resolution.overrides import Overrides, load_overrides
from wdh_cli.tempids.issuer import TempIdIssuer

T = TypeVar("T")
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Teaching:
    """What the run's existing IDs taught, counted over (row, key) pairs.

    A row teaches when it has a company ID and no override answers it; it
    teaches each of its backflow keys that the cache does not hold yet.
    """

    learned_keys: int = 0  # keys taught one company: the run learns them
    learned_rows: int = 0  # (row, key) pairs teaching a learned key
    conflict_keys: int = 0  # keys taught two or more companies: learned by nobody
    conflict_rows: int = 0
    stored_same_rows: int = 0  # (row, key) pairs whose key the cache holds with this company
    stored_other_rows: int = 0  # ... with another company (left as it is: a conflict)


class Classes(NamedTuple):
    """Rows per answer before layers 4 and 5, and the names left for them."""

    total: int
    by_source: dict[str, int]  # yaml:<type>, db:<type>, existing, unresolved -> rows
    waiting: list[Waiting]  # names whose rows no earlier layer answered


class Waiting(NamedTuple):
    key: str  # the normalized name
    rows: int  # rows of the run this name leaves for layers 4 and 5
    spelling: str  # its most frequent spelling in those rows (ties: the smallest)


class Rows(Protocol):
    """A run's rows, seen through native code: one implementation per kind of input.

    Calls come in this order: `distinct_names`, `set_name_keys`, `set_hits`,
    then (when the run learns) `teach` and `stage_learned`, then `classify`
    and `set_name_answers`; writing the answers is the input's own business.
    """

    plan: KeyPlan

    def distinct_names(self, conn: psycopg.Connection | None) -> list[str]:
        """Every distinct non-blank cell of the name column, as read.

        With a connection, the rows' keys may start on their way to the
        cache (`set_hits` then asks it): the first pass reads them anyway.
        """
        ...

    def set_name_keys(self, raw: list[str], keys: list[str]) -> None:
        """Each distinct name cell's key (normalize_name), for the rows to join."""
        ...

    def set_hits(self, overrides: Overrides, conn: psycopg.Connection | None) -> None:
        """Layers 1 and 2 as the run starts, for every key of every level.

        The overrides, and (with a connection) the cache's mapping of each
        distinct storable key, looked up set-based, one statement per level
        at most.
        """
        ...

    def teach(self) -> Teaching:
        """Learn the keys that the existing IDs of otherwise unanswered rows teach."""
        ...

    def stage_learned(self, conn: psycopg.Connection) -> None:
        """The learned keys into the session's `wdh_learned` table (for backflow)."""
        ...

    def classify(self) -> Classes:
        """Each row's answer by the first three layers, counted; the rest per name."""
        ...

    def set_name_answers(self, answers: Mapping[str, tuple[str, str]]) -> None:
        """Layers 4 and 5: (company ID, source) of each waiting name, for the rows to join."""
        ...


class Unknown(NamedTuple):
    """A name left with a temporary ID (for --export-unknown)."""

    spelling: str
    temp_id: str
    rows: int


@dataclass
class Outcome:
    """What a run found, besides the rows' answers (which its Rows hold)."""

    stats: ResolveStats
    unknown: list[Unknown] = field(default_factory=list)  # most rows first


class RunSetup:
    """What a run needs before it reads a row: checked early, so a bad setting costs nothing.

    The overrides (a bad file is exit 2 naming file and line) and the salt.
    """

    def __init__(self, settings: Settings, options: ResolveOptions) -> None:
        self.settings = settings
        self.options = options
        self.overrides = load_overrides(settings.mappings_dir)
        # Plan-only makes no temporary IDs, so it needs no salt.
        self.issuer = None if options.plan_only else TempIdIssuer.from_settings(settings)

    def connect(self, db: Database, stack: ExitStack, warn: Warn) -> psycopg.Connection | None:
        """The run's connection (closed with `stack`), or None: offline, as asked or when the
        server cannot be reached (unless --require-db: then that is the error)."""
        if self.options.offline:
            return None
        try:
            return stack.enter_context(db.connect(autocommit=True))
        except DatabaseUnavailable as exc:
            if self.options.require_db:
                raise
            warn(
                f"{exc.message}; going on offline (YAML, existing IDs, temporary IDs; "
                "nothing queued)"
            )
            return None

    def start(
        self,
        conn: psycopg.Connection | None,
        stack: ExitStack,
        stats: ResolveStats,
        warn: Warn,
        *,
        degrade: bool = True,
        beside: bool = True,
    ) -> Run:
        """The run on `conn` (None: offline); its provider is closed with `stack`, and its
        work still running is waited for before `stack` closes the connection.

        degrade=False: a database error ends the run as it is (a table run has
        no run without the database, and names the table in its errors).
        beside=False: the queue's write is done before `resolve` returns (the
        caller's rows use the connection too).
        """
        if conn is not None and not self.options.plan_only:
            require_current_rules(conn)  # backflow, the ledger and the queue write name keys
        if self.issuer is not None:
            self.issuer.ensure_usable(conn)
        run = Run(self, conn, self._provider(stack), stats, warn, degrade=degrade, beside=beside)
        stack.callback(run.close)
        return run

    def _provider(self, stack: ExitStack) -> Provider | None:
        """The provider of layer 4, or None: plan-only asks nobody, and no budget asks nobody."""
        if self.options.plan_only or self.options.budget <= 0:
            return None
        provider = open_provider(self.settings, self.options.provider)
        if provider is not None:
            stack.callback(provider.close)
        return provider


class Run:
    """One run's work per distinct key and name; `resolve(rows)` drives its Rows."""

    def __init__(
        self,
        setup: RunSetup,
        conn: psycopg.Connection | None,
        provider: Provider | None,
        stats: ResolveStats,
        warn: Warn,
        *,
        degrade: bool = True,
        beside: bool = True,
    ) -> None:
        self.degrade = degrade
        self.beside = beside
        # The queue's write runs beside the caller's output (see resolve).
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wdh-queue")
        self._queued: Future[None] | None = None
        self.options = setup.options
        self.settings = setup.settings
        self.overrides = setup.overrides
        self.issuer = setup.issuer
        self.conn = conn
        self.provider = provider
        self.provider_name = provider.name if provider is not None else "none"
        self.stats = stats
        self.warn = warn
        self._warned: set[str] = set()
        stats.db_available = conn is not None
        stats.budget_remaining = self.options.budget

    @property
    def writes(self) -> bool:
        return self.conn is not None and not self.options.plan_only

    @property
    def learns(self) -> bool:
        """Existing IDs teach the run (and, unless plan-only, the cache) their keys.

        Learning is backflow seen from inside the run: with --no-backflow, or
        without a database, existing IDs answer their own rows only.
        """
        return self.conn is not None and self.options.backflow

    def resolve(self, rows: Rows) -> Outcome:
        """Every layer for every row of `rows`; the answers are then in `rows`.

        The queue's write (names left with temporary IDs, and their rows) may
        still be running in a thread when this returns: the caller writes its
        output meanwhile (no use of the connection), then calls `settle`,
        which waits for it and counts what it did.
        """
        self._key_names(rows)
        self._start_hits(rows)
        if self.learns:
            self._learn(rows)
        classes = rows.classify()
        outcome = Outcome(self.stats)
        answers = self._layers_4_and_5(classes.waiting, outcome)
        rows.set_name_answers(answers)
        self._count(classes)
        return outcome

    # Layers 1 and 2 ---------------------------------------------------------
    def _key_names(self, rows: Rows) -> None:
        """Each distinct name cell's key, once, into `rows` (the lists die here: they
        held 20 MB through a run of 100,000 names)."""
        names = self._first_pass(rows)
        rows.set_name_keys(names, [normalize_name(name) for name in names])

    def _first_pass(self, rows: Rows) -> list[str]:
        conn = self.conn
        if conn is not None:
            names = self._guard("cache", lambda: rows.distinct_names(conn))
            if names is not None:
                return names
            self._offline()
        return rows.distinct_names(None)

    def _start_hits(self, rows: Rows) -> None:
        conn = self.conn
        if conn is not None:
            if self._succeeds("cache", lambda: rows.set_hits(self.overrides, conn)):
                return
            self._offline()
        rows.set_hits(self.overrides, None)  # no cache: the overrides alone

    def _offline(self) -> None:
        """The cache failed: the rest of the run goes on without the database."""
        self.conn = None
        self.stats.db_available = False

    # What the run learns (layer 2, from layer 3's cells) --------------------------
    def _learn(self, rows: Rows) -> None:
        teaching = rows.teach()
        backflow = self.stats.backflow
        backflow["skipped"] += teaching.stored_same_rows
        backflow["conflicts"] += teaching.conflict_rows + teaching.stored_other_rows
        if not teaching.learned_keys:
            return
        conn = self.conn
        assert conn is not None
        if self.options.plan_only:
            backflow["inserted"] += teaching.learned_keys
            backflow["skipped"] += teaching.learned_rows - teaching.learned_keys
            return

        def write() -> mappings.InsertOutcome:
            with conn.transaction():
                rows.stage_learned(conn)
                return mappings.insert_learned(conn, "backflow")

        outcome = self._guard("backflow", write)
        if outcome is not None:
            backflow["inserted"] += outcome.inserted
            backflow["skipped"] += outcome.skipped
            backflow["conflicts"] += outcome.conflicts

    # Layers 4 and 5 ---------------------------------------------------------
    def _layers_4_and_5(
        self, waiting: list[Waiting], outcome: Outcome
    ) -> dict[str, tuple[str, str]]:
        """(company ID, source) of each waiting name: the provider's, else a temporary ID."""
        found = self._from_provider(waiting)
        answers: dict[str, tuple[str, str]] = {
            key: (company, self.provider_name) for key, company in found.items()
        }
        temporary = [name for name in waiting if name.key not in found]
        ids = self._temp_ids([name.key for name in temporary])
        for name in temporary:
            answers[name.key] = (ids.get(name.key, ""), "temp")
        outcome.unknown = sorted(
            (
                Unknown(name.spelling.strip(), ids.get(name.key, ""), name.rows)
                for name in temporary
            ),
            key=lambda unknown: (-unknown.rows, unknown.spelling),
        )
        stats = self.stats
        for name in waiting:
            if name.key in found:
                stats.provider_hits += name.rows
            else:
                stats.temp_ids_generated += name.rows
        if temporary and self.conn is not None:
            if self.beside:
                self._queued = self._background.submit(self._queue, temporary, ids)
            else:
                self._queue(temporary, ids)
        return answers

    def settle(self) -> None:
        """Wait for the queue's write (see `resolve`); its figures are then counted."""
        queued, self._queued = self._queued, None
        if queued is not None:
            queued.result()

    def close(self) -> None:
        """Wait for work still running (the connection is about to close)."""
        try:
            self.settle()
        finally:
            self._background.shutdown(wait=True)

    def _from_provider(self, waiting: list[Waiting]) -> dict[str, str]:
        """Names the provider (or its ledger) answers: normalized name -> company ID.

        Names are asked in order of the rows they hold (most first, then by
        name), so the budget goes where it answers most rows, whatever the
        order of the rows.
        """
        if self.provider is None or not waiting:
            return {}
        askable = sorted(
            (name for name in waiting if storable(name.key)), key=lambda n: (-n.rows, n.key)
        )
        asked: dict[str, Candidate | None] = {}
        if self.conn is not None and askable:
            conn, provider_name, ttl = self.conn, self.provider_name, self.settings.lookup_ttl
            keys = [name.key for name in askable]
            fresh = self._guard("cache", lambda: ledger.fresh(conn, provider_name, keys, ttl))
            for key, remembered in (fresh or {}).items():
                asked[key] = _company(remembered.accepted())
                self.stats.ledger_hits += 1
        answers: list[Answer] = []
        learned: list[Learned] = []
        for name in askable:
            if name.key in asked:
                continue  # the ledger answered it: no call, no budget
            if self.provider is None or self.stats.budget_consumed >= self.options.budget:
                break
            self.stats.budget_consumed += 1
            answer = self._ask(self.provider, name.spelling, name.key)
            accepted = answer.accepted() if answer is not None else None
            asked[name.key] = accepted
            if answer is not None:
                answers.append(answer)
            if accepted is not None:
                learned.append(
                    Learned(
                        name.spelling.strip(),
                        name.key,
                        accepted.company_id,
                        accepted.official_name,
                        accepted.unified_credit_code,
                    )
                )
        self.stats.budget_remaining = self.options.budget - self.stats.budget_consumed
        found = {key: found.company_id for key, found in asked.items() if found is not None}
        writer = self.conn
        if (answers or found) and writer is not None and self.writes:
            provider_name = self.provider_name

            def write() -> None:
                # What the provider said (every definitive answer), the
                # companies it named, and the queue rows it makes moot.
                with writer.transaction():
                    ledger.remember(writer, provider_name, answers)
                    companies.remember(writer, learned, provider_name)
                    queue.close_answered(writer, found, provider_name)

            self._guard("cache", write)
        return found

    def _ask(self, provider: Provider, raw_name: str, key: str) -> Answer | None:
        """The provider's answer for a name; None when it failed (and is not remembered)."""
        try:
            candidates = provider.search(raw_name)
        except ProviderAuthError as exc:
            self.warn(exc.message)
            self.stats.errors["provider"] += 1
            self.provider = None  # disabled for the rest of the run
            return None
        except ProviderError as exc:
            self.stats.errors["provider"] += 1
            self._warn_once(
                "provider", f"provider lookups failing ({exc.message}); names get temporary IDs"
            )
            return None
        answer = answer_of(self.provider_name, key, candidates, self.settings.eqc_min_confidence)
        accepted = answer.accepted()
        problem = unstorable(accepted) if accepted is not None else None
        if problem is not None:
            self.stats.errors["provider"] += 1
            self._warn_once("unstorable", f"a provider answer was ignored: {problem}")
            return None
        return answer

    def _temp_ids(self, keys: list[str]) -> dict[str, str]:
        """Temporary IDs of the names left without a company (none under plan-only).

        Sequential IDs are handed out in the order of the names, so they do
        not depend on the order of the rows either.
        """
        if self.issuer is None or not keys:
            return {}
        issuer = self.issuer
        conn = self.conn if issuer.style == "sequence" else None
        if conn is None:
            return issuer.issue(keys)

        def issue() -> dict[str, str]:
            with conn.transaction():
                return issuer.issue(keys, conn)

        issued = self._guard("enqueue", issue)
        return issued if issued is not None else {}

    def _queue(self, names: list[Waiting], ids: Mapping[str, str]) -> None:
        """Queue the names left with temporary IDs, and add their rows to their requests.

        One statement; under plan-only, only count what the queue would do.
        """
        conn = self.conn
        assert conn is not None
        waiting = [(name.spelling, name.key, name.rows) for name in names]
        queue, write = self.options.queue, not self.options.plan_only

        def record() -> queue_service.Enqueued:
            with conn.transaction():
                return queue_service.record_waiting(conn, waiting, ids, queue=queue, write=write)

        done = self._guard("enqueue", record)
        if done is not None:
            self.stats.async_queued += done.queued
            self.stats.already_queued += done.already

    # Figures ---------------------------------------------------------------
    def _count(self, classes: Classes) -> None:
        stats = self.stats
        stats.total_rows = classes.total
        for source, count in classes.by_source.items():
            if source.startswith("yaml:"):
                stats.yaml_hits[source.removeprefix("yaml:")] += count
            elif source.startswith("db:"):
                stats.db_cache_hits += count
            elif source == "existing":
                stats.existing_column_hits += count
            elif source == "unresolved":
                stats.unresolved += count

    # -----------------------------------------------------------------------
    def _guard(self, what: str, action: Callable[[], T]) -> T | None:
        """Run a database step; a failure is counted, warned about once, and survived.

        Under --require-db a failure ends the run instead (exit 1): the user
        asked for the database, not for a degraded run.
        """
        try:
            return action()
        except psycopg.Error as exc:
            if not self.degrade:
                raise
            message = translate(exc, target="").message
        except DatabaseError as exc:
            if not self.degrade:
                raise
            message = exc.message
        if self.options.require_db:
            raise DatabaseError(f"{what} failed and --require-db is set: {message}")
        self.stats.errors[what] += 1
        self._warn_once(what, f"{what} failed, going on without it: {message}")
        return None

    def _succeeds(self, what: str, action: Callable[[], object]) -> bool:
        """`_guard` for a step that returns nothing: whether it succeeded."""
        return self._guard(what, lambda: (action(), True)[1]) is not None

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.warn(message)


def _company(candidate: Candidate | None) -> Candidate | None:
    """A remembered match, if its company is one (the ledger may predate the ID rule)."""
    if candidate is None or company_id_problem(candidate.company_id) is not None:
        return None
    return candidate
