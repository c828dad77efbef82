"""The resolver: a batch of rows in, a company ID and its source for each row out.

Layers, first hit wins (docs/commands.md, "wdh resolve"):
1. YAML overrides, the levels in priority order;
2. the database cache (one lookup statement for every key of the batch);
3. the existing company ID column, with backflow of its keys into the cache;
4. the provider ledger (a fresh remembered answer costs nothing), then the
   provider within the budget, each distinct name at most once per run;
5. a temporary ID, and the name enqueued for a later drain (one statement).

The levels (which keys a row has, in which order, which ones backflow) come
from the level table, `wdh_cli.mappings.levels`. Work goes per distinct key
and name, never per row. Every database step degrades: a failure is counted
and warned about, and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple, TypeVar

import psycopg

from wdh_cli.companies import service as companies
from wdh_cli.companies.repository import Learned, unstorable
from wdh_cli.db.errors import translate
from wdh_cli.errors import DatabaseError, WdhError
from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import Answer, answer_of
from wdh_cli.mappings import levels
from wdh_cli.mappings import repository as mappings
from wdh_cli.mappings.repository import NewMapping
from wdh_cli.mappings.rows import MAX_ALIAS, MAX_COMPANY_ID
from wdh_cli.providers.base import Candidate, Provider, ProviderAuthError, ProviderError
from wdh_cli.queue import repository as queue
from wdh_cli.queue import service as queue_service
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.overrides import Overrides
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.tempids.issuer import TempIdIssuer

T = TypeVar("T")


def storable(key: str) -> bool:
    """A key company_mapping can hold: not empty, within the column, no NUL character."""
    return bool(key) and len(key) <= MAX_ALIAS and "\x00" not in key


class RowKeys(NamedTuple):
    """The cells of one row that matter, as text (fields named as in the level table)."""

    plan: str = ""
    account: str = ""
    name: str = ""
    account_name: str = ""
    existing: str = ""


class Resolution(NamedTuple):
    company_id: str | None
    source: str  # yaml:<type> | db:<type> | existing | <provider> | temp | unresolved


Keys = tuple[str, ...]  # a row's keys, one per key column of the level table
Pair = tuple[str, str]  # (match_type, key), as company_mapping holds it


class Layer(IntEnum):
    """Which layer answered a key tuple; the figures count rows per layer."""

    YAML = 1
    CACHE = 2
    EXISTING = 3
    PROVIDER = 4
    TEMPORARY = 5
    NONE = 6  # no layer could (no name): unresolved


class Known:
    """A distinct key tuple's answer, kept while nothing it depends on changes.

    Up to MAX_ANSWERS of these live at once (wdh_cli.resolve.answers), so it
    holds only what rows and figures need, in as few objects as possible.
    """

    __slots__ = ("depends", "layer", "name", "suffix")

    def __init__(
        self, name: str, resolution: Resolution, layer: Layer, pairs: Iterable[Pair]
    ) -> None:
        self.name = name  # the name key, for a temporary ID's figures ("" otherwise)
        self.layer = layer
        # The cache keys the answer depends on that this run may write (see
        # Resolver.writable): only those can put it out of date. Flat (type,
        # key, type, key...): one tuple, not one per key.
        self.depends = tuple([part for pair in pairs for part in pair])
        self.suffix = [resolution.company_id or "", resolution.source]  # the output's cells

    @property
    def resolution(self) -> Resolution:
        company_id, source = self.suffix
        return Resolution(company_id or None, source)

    @property
    def pairs(self) -> list[Pair]:
        depends = self.depends
        return list(zip(depends[::2], depends[1::2], strict=True))


class Resolver:
    """The five layers for the distinct key tuples of one run; keeps its caches and figures.

    `work_out` answers tuples (each with the rows it stands for in the batch);
    `wdh_cli.resolve.answers.AnswerBook` decides which tuples need it, and
    hands each answer's rows to `count` when the answer is retired.
    """

    def __init__(
        self,
        *,
        options: ResolveOptions,
        overrides: Overrides,
        conn: psycopg.Connection | None,
        provider: Provider | None,
        temp_ids: TempIdIssuer | None,
        min_confidence: float,
        lookup_ttl: int = 0,
        stats: ResolveStats,
        warn: Callable[[str], None],
    ) -> None:
        self.options = options
        self.overrides = overrides
        self.conn = conn
        self.provider = provider  # None once disabled (a 401)
        self.provider_name = provider.name if provider is not None else "none"
        self.issuer = temp_ids  # None under plan-only: no IDs are made
        self.min_confidence = min_confidence
        self.lookup_ttl = lookup_ttl  # seconds a ledger answer is reused (0: never)
        self.stats = stats
        self.warn = warn
        self.budget_left = options.budget
        self.asked: dict[str, Candidate | None] = {}  # normalized name -> provider answer
        self.temp_ids: dict[str, str] = {}
        self.queued_this_run: set[str] = set()
        self.unknown: Counter[str] = Counter()  # normalized name -> rows with a temp ID
        self.first_spelling: dict[str, str] = {}
        self._warned: set[str] = set()
        # Cache keys this batch wrote (or may have): answers relying on them
        # are out of date from the next batch on; _stale_all: every answer is.
        self._stale: set[Pair] = set()
        self._stale_all = False
        # Rows per name left with a temporary ID, added to their requests at
        # the end of the run (`finish`), in one statement.
        self._rows_seen: Counter[str] = Counter()
        # Plan-only: the company of each backflow key as the table will hold it
        # (stored, or inserted by an earlier batch), and the ones backflow adds.
        self._planned: dict[Pair, str] = {}
        self._planned_new: dict[Pair, mappings.MappingHit] = {}
        table = levels.LEVELS
        # A row's keys: one per (field, key form) of the table. Costly forms
        # (a name's normalization) are cached, since names repeat across
        # rows; trimming is cheaper than a cache lookup, and a cache of
        # account numbers (often one per row) would only hold memory.
        self._key_columns = [
            (
                RowKeys._fields.index(field),
                form if form is levels.trimmed else lru_cache(maxsize=1 << 17)(form),
            )
            for field, form in table.key_columns
        ]
        # (match_type, position of its key, priority), in priority order.
        self._levels = [
            (level.match_type, column, level.priority)
            for level, column in zip(table, table.column_of, strict=True)
        ]
        self._name_column = table.column_of[table.match_types.index(levels.NAME)]
        # One source string per level, shared by every answer that names it.
        self._cache_sources = {match_type: f"db:{match_type}" for match_type in table.match_types}
        # Only the levels that have overrides are worth a look per row.
        self._yaml_levels = [
            (match_type, column)
            for match_type, column, _ in self._levels
            if overrides.get(match_type)
        ]
        self._backflow_levels = [
            (level.match_type, column, level.priority)
            for level, column in zip(table, table.column_of, strict=True)
            if level.backflows
        ]
        stats.budget_remaining = options.budget

    @property
    def writes(self) -> bool:
        return self.conn is not None and not self.options.plan_only

    @property
    def writable(self) -> frozenset[str]:
        """The match types whose keys this run may write to the cache (or plan to).

        Only an answer relying on such a key can go out of date during the run.
        """
        if self.conn is None:
            return frozenset()
        found: set[str] = set()
        if self.options.backflow:
            found.update(match_type for match_type, _, _ in self._backflow_levels)
        if self.provider is not None and self.writes:
            found.add(levels.LEVELS[levels.NAME].match_type)
        return frozenset(found)

    def resolve_batch(self, rows: Sequence[RowKeys]) -> list[Resolution]:
        """One answer per row, the batch on its own (for callers without an AnswerBook)."""
        from wdh_cli.resolve.answers import AnswerBook

        book: AnswerBook[RowKeys] = AnswerBook(self, lambda row: row)
        found = book.resolve_rows(list(rows))
        book.close()
        return [known.resolution for known in found]

    def work_out(self, rows: list[RowKeys], weights: list[int]) -> list[Known]:
        """The five layers for distinct key tuples (first-row order; weights: their rows)."""
        columns = self._key_columns
        keys: list[Keys] = [tuple([form(row[at]) for at, form in columns]) for row in rows]
        results: list[Resolution | None] = [None] * len(rows)
        layers: list[Layer] = [Layer.NONE] * len(rows)
        for index, k in enumerate(keys):
            found = self._from_yaml(k)
            if found is not None:
                results[index], layers[index] = found, Layer.YAML
        # The cache keys of each tuple YAML left open: looked up in layer 2,
        # and kept with the answer (those this run may write) below.
        row_pairs = [
            self._pairs(k) if done is None else [] for k, done in zip(keys, results, strict=True)
        ]
        self._from_database(row_pairs, results, layers)
        self._from_existing(rows, keys, weights, results, layers)
        self._from_provider(rows, keys, results, layers)
        self._temporary(rows, keys, results, layers)
        writable, name_at = self.writable, self._name_column
        return [
            Known(
                k[name_at] if layer is Layer.TEMPORARY else "",
                result or Resolution(None, "unresolved"),
                layer,
                [pair for pair in pairs if pair[0] in writable],
            )
            for k, pairs, result, layer in zip(keys, row_pairs, results, layers, strict=True)
        ]

    def take_stale(self) -> set[Pair] | None:
        """The cache keys written since the last call; None: every answer is out of date."""
        stale, every = self._stale, self._stale_all
        self._stale, self._stale_all = set(), False
        return None if every else stale

    def count(self, known: Known, rows: int) -> None:
        """The figures count rows: an answer's rows go to its layer."""
        if not rows:
            return
        stats = self.stats
        layer = known.layer
        if layer is Layer.CACHE:
            stats.db_cache_hits += rows
        elif layer is Layer.TEMPORARY:
            stats.temp_ids_generated += rows
            name = known.name
            self.unknown[name] += rows
            if storable(name):
                self._rows_seen[name] += rows
        elif layer is Layer.YAML:
            stats.yaml_hits[known.resolution.source.removeprefix("yaml:")] += rows
        elif layer is Layer.EXISTING:
            stats.existing_column_hits += rows
        elif layer is Layer.PROVIDER:
            stats.provider_hits += rows
        else:
            stats.unresolved += rows
        stats.total_rows += rows

    def finish(self) -> None:
        """End of the run: each queued name's request gains the rows left with its temporary ID.

        One statement for the run (not one per batch); a run cut short adds nothing.
        """
        if not self._rows_seen or not self.writes:
            return
        conn, seen = self.conn, self._rows_seen
        assert conn is not None

        def record() -> None:
            with conn.transaction():
                queue.add_rows_seen(conn, seen)

        self._guard("enqueue", record)
        self._rows_seen = Counter()

    def _wrote(self, pairs: Iterable[Pair]) -> None:
        """This batch (may have) put these keys in the cache."""
        self._stale.update(pairs)

    def _forget_all(self) -> None:
        """The run changed mode (database gone, provider disabled): every answer is redone."""
        self._stale_all = True

    def _pairs(self, keys: Keys) -> list[Pair]:
        """The (match_type, key) pairs a row can be looked up by, in priority order.

        Keys the table cannot hold (longer than the column, or with a NUL
        character) cannot be stored, so they are not looked up either; one
        such cell must not take the database away from the rest of the run.
        """
        return [
            (match_type, keys[column])
            for match_type, column, _ in self._levels
            if storable(keys[column])
        ]

    # Layer 1 ---------------------------------------------------------------
    def _from_yaml(self, keys: Keys) -> Resolution | None:
        for match_type, column in self._yaml_levels:
            key = keys[column]
            if key:
                found = self.overrides[match_type].get(key)
                if found is not None:
                    return Resolution(found, f"yaml:{match_type}")
        return None

    # Layer 2 ---------------------------------------------------------------
    def _from_database(
        self, row_pairs: list[list[Pair]], results: list[Resolution | None], layers: list[Layer]
    ) -> None:
        if self.conn is None:
            return
        wanted = {pair for pairs in row_pairs for pair in pairs}
        if not wanted:
            return
        conn = self.conn
        hits = self._guard("cache", lambda: mappings.lookup(conn, sorted(wanted)))
        if hits is None:
            self.conn = None  # the cache is gone: the rest of the run is offline
            self.stats.db_available = False
            self._forget_all()
            return
        if self._planned_new:
            # Plan-only: what the real run's backflow will have cached by now.
            hits = self._planned_new | hits
        for index, pairs in enumerate(row_pairs):
            # The stored priority decides among a row's hits (lowest wins); the
            # level order (pairs are in it) breaks ties.
            found = [hit for pair in pairs if (hit := hits.get(pair)) is not None]
            if found:
                best = min(found, key=lambda hit: hit.priority)
                results[index] = Resolution(best.canonical_id, self._cache_sources[best.match_type])
                layers[index] = Layer.CACHE

    # Layer 3 ---------------------------------------------------------------
    def _from_existing(
        self,
        rows: list[RowKeys],
        keys: list[Keys],
        weights: list[int],
        results: list[Resolution | None],
        layers: list[Layer],
    ) -> None:
        backflow: list[NewMapping] = []
        backflow_rows: list[int] = []  # the rows each backflow key stands for
        for index, row in enumerate(rows):
            existing = row.existing.strip()
            if results[index] is not None or not existing:
                continue
            results[index] = Resolution(existing, "existing")
            layers[index] = Layer.EXISTING
            if len(existing) > MAX_COMPANY_ID or "\x00" in existing:
                continue
            k = keys[index]
            for match_type, column, priority in self._backflow_levels:
                key = k[column]
                if storable(key):
                    backflow.append(NewMapping(key, existing, match_type, priority))
                    backflow_rows.append(weights[index])
        if not backflow or self.conn is None or not self.options.backflow:
            return
        conn = self.conn
        self._wrote((row.match_type, row.alias_name) for row in backflow)

        def write() -> mappings.InsertOutcome:
            if self.options.plan_only:
                return self._plan_backflow(conn, backflow, backflow_rows)
            with conn.transaction():
                return mappings.insert_new_keys(conn, backflow, "backflow", weights=backflow_rows)

        outcome = self._guard("backflow", write)
        if outcome is not None:
            self.stats.backflow["inserted"] += outcome.inserted
            self.stats.backflow["skipped"] += outcome.skipped
            self.stats.backflow["conflicts"] += outcome.conflicts

    def _plan_backflow(
        self, conn: psycopg.Connection, backflow: list[NewMapping], rows: list[int]
    ) -> mappings.InsertOutcome:
        """What backflow would do, reading only: the figures of the real run.

        The real run's first batch inserts keys that its later batches then
        find stored (in backflow, and as cache hits); `_planned` and
        `_planned_new` play the table's part for those keys, so the figures
        add up across batches as they will for real. Each key counts its rows
        as `insert_new_keys` does: the first inserts, the others are skipped
        or conflicts.
        """
        pairs = [(row.match_type, row.alias_name) for row in backflow]
        unknown = sorted({pair for pair in pairs if pair not in self._planned})
        for pair, hit in mappings.lookup(conn, unknown).items():
            self._planned[pair] = hit.canonical_id
        inserted = skipped = conflicts = 0
        for pair, row, n in zip(pairs, backflow, rows, strict=True):
            current = self._planned.get(pair)
            if current is None:
                self._planned[pair] = row.canonical_id
                self._planned_new[pair] = mappings.MappingHit(
                    row.match_type, row.alias_name, row.canonical_id, row.priority, "backflow"
                )
                inserted += 1
                skipped += n - 1
            elif current == row.canonical_id:
                skipped += n
            else:
                conflicts += n
        return mappings.InsertOutcome(inserted, skipped, conflicts)

    # Layer 4 ---------------------------------------------------------------
    def _from_provider(
        self,
        rows: list[RowKeys],
        keys: list[Keys],
        results: list[Resolution | None],
        layers: list[Layer],
    ) -> None:
        """Names no earlier layer answered: the ledger first (free), then the provider (budget)."""
        if self.provider is None or self.options.plan_only:
            return
        name_at = self._name_column
        wanting: dict[str, int] = {}  # names first asked in this batch -> their first row
        for index, k in enumerate(keys):
            name = k[name_at]
            if results[index] is None and storable(name) and name not in self.asked:
                wanting.setdefault(name, index)
        if wanting and self.conn is not None:
            reader, provider_name, ttl = self.conn, self.provider_name, self.lookup_ttl
            fresh = self._guard(
                "cache", lambda: ledger.fresh(reader, provider_name, list(wanting), ttl)
            )
            for name, remembered in (fresh or {}).items():
                self.asked[name] = remembered.accepted()
                self.stats.ledger_hits += 1
        answers: list[Answer] = []
        learned: list[Learned] = []
        for name, index in wanting.items():
            if name in self.asked:
                continue  # the ledger answered it
            if self.budget_left <= 0 or self.provider is None:
                continue
            self.budget_left -= 1
            self.stats.budget_consumed += 1
            self.stats.budget_remaining = self.budget_left
            answer = self._ask(self.provider, rows[index].name, name)
            accepted = answer.accepted() if answer is not None else None
            self.asked[name] = accepted
            if answer is not None:
                answers.append(answer)
            if accepted is not None:
                learned.append(
                    Learned(
                        rows[index].name.strip(),
                        name,
                        accepted.company_id,
                        accepted.official_name,
                        accepted.unified_credit_code,
                    )
                )
        if self.provider is None:
            # Disabled (a 401) during this batch: from the next batch on, a
            # row-by-row run would no longer take its answers, so neither do we.
            self._forget_all()
        answered: dict[str, str] = {}  # names answered in this batch -> their company
        for index, k in enumerate(keys):
            found = self.asked.get(k[name_at]) if results[index] is None else None
            if found is not None:
                results[index] = Resolution(found.company_id, self.provider_name)
                layers[index] = Layer.PROVIDER
                if k[name_at] in wanting:
                    answered[k[name_at]] = found.company_id
        if (answers or answered) and self.writes:
            conn = self.conn
            assert conn is not None
            name_level = levels.LEVELS[levels.NAME].match_type
            self._wrote((name_level, item.normalized_name) for item in learned)

            def write() -> None:
                # What the provider said (every definitive answer), the
                # companies it named, and the queue rows it makes moot.
                with conn.transaction():
                    ledger.remember(conn, self.provider_name, answers)
                    companies.remember(conn, learned, self.provider_name)
                    queue.close_answered(conn, answered, self.provider_name)

            self._guard("cache", write)

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
        answer = answer_of(self.provider_name, key, candidates, self.min_confidence)
        accepted = answer.accepted()
        problem = unstorable(accepted) if accepted is not None else None
        if problem is not None:
            self.stats.errors["provider"] += 1
            self._warn_once("unstorable", f"a provider answer was ignored: {problem}")
            return None
        return answer

    # Layer 5 ---------------------------------------------------------------
    def _temporary(
        self,
        rows: list[RowKeys],
        keys: list[Keys],
        results: list[Resolution | None],
        layers: list[Layer],
    ) -> None:
        name_at = self._name_column
        pending = [
            (index, k[name_at])
            for index, k in enumerate(keys)
            if results[index] is None and k[name_at]
        ]
        if not pending:
            return
        # Names first seen in this batch (first_spelling holds every name seen).
        new_names = sorted({name for _, name in pending if name not in self.first_spelling})
        if new_names and self.issuer is not None:
            conn = self.conn if self.issuer.style == "sequence" else None
            self.temp_ids.update(self.issuer.issue(new_names, conn))
        for index, name in pending:
            results[index] = Resolution(self.temp_ids.get(name), "temp")
            layers[index] = Layer.TEMPORARY
            self.first_spelling.setdefault(name, rows[index].name.strip())
        if self.options.queue:
            self._enqueue([n for n in new_names if n not in self.queued_this_run])

    def _enqueue(self, names: list[str]) -> None:
        """Queue the new names (one statement); under plan-only, only count them."""
        if self.conn is None or not names:
            return
        conn = self.conn
        spelled = [(self.first_spelling[n], n) for n in names]
        write = not self.options.plan_only

        def record() -> queue_service.Enqueued:
            with conn.transaction():
                return queue_service.enqueue_names(
                    conn, spelled, self.temp_ids, skip_failed=True, write=write
                )

        done = self._guard("enqueue", record)
        if done is not None:
            self.queued_this_run.update(names)
            self.stats.async_queued += done.queued
            self.stats.already_queued += done.already

    # -----------------------------------------------------------------------
    def _guard(self, what: str, action: Callable[[], T]) -> T | None:
        """Run a database step; a failure is counted, warned about once, and survived.

        Under --require-db a failure ends the run instead (exit 1), at any
        point of it: the user asked for the database, not for a degraded run.
        """
        try:
            return action()
        except psycopg.Error as exc:
            message = translate(exc, target="").message
        except WdhError as exc:
            message = exc.message
        if self.options.require_db:
            raise DatabaseError(f"{what} failed and --require-db is set: {message}")
        self.stats.errors[what] += 1
        self._warn_once(what, f"{what} failed, going on without it: {message}")
        return None

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.warn(message)
