"""The resolver: a batch of rows in, a company ID and its source for each row out.

Layers, first hit wins (shared/spec/cli.md, "wdh resolve"):
1. YAML overrides, priority 1 to 5;
2. the database cache (one lookup statement for every key of the batch);
3. the existing company ID column, with backflow of its keys into the cache;
4. the provider, within the budget, each distinct name at most once per run;
5. a temporary ID, and the name enqueued for a later drain (one statement).

Work goes per distinct key and name, never per row. Every database step
degrades: a failure is counted and warned about, and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple, TypeVar

import psycopg

from wdh_cli.companies import repository as companies
from wdh_cli.companies.repository import Learned
from wdh_cli.db.errors import translate
from wdh_cli.errors import WdhError
from wdh_cli.mappings import repository as mappings
from wdh_cli.mappings.levels import MAX_ALIAS, PRIORITIES
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import (
    Candidate,
    Provider,
    ProviderAuthError,
    ProviderError,
    best_accepted,
)
from wdh_cli.queue import repository as queue
from wdh_cli.resolve.options import LEVELS, ResolveOptions
from wdh_cli.resolve.overrides import Overrides
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.tempids.assign import assign

T = TypeVar("T")


class RowKeys(NamedTuple):
    """The cells of one row that matter, as text."""

    plan: str = ""
    account: str = ""
    name: str = ""
    account_name: str = ""
    existing: str = ""


class Resolution(NamedTuple):
    company_id: str | None
    source: str  # yaml:<type> | db:<type> | existing | <provider> | temp | unresolved


class _Keys(NamedTuple):
    plan: str
    account: str
    name: str  # normalized
    account_name: str


def _pairs(k: _Keys) -> list[tuple[str, str]]:
    """The (match_type, key) pairs a row can be looked up by, in priority order.

    Keys longer than the column cannot be stored, so they are not looked up.
    """
    pairs = []
    plan = k.plan if k.plan and len(k.plan) <= MAX_ALIAS else ""
    if plan:
        pairs.append(("plan", plan))
    if k.account and len(k.account) <= MAX_ALIAS:
        pairs.append(("account", k.account))
    if plan:
        pairs.append(("hardcode", plan))
    if k.name and len(k.name) <= MAX_ALIAS:
        pairs.append(("name", k.name))
    if k.account_name and len(k.account_name) <= MAX_ALIAS:
        pairs.append(("account_name", k.account_name))
    return pairs


class Resolver:
    """Resolves batches of one run; keeps the run's caches and figures."""

    def __init__(
        self,
        *,
        options: ResolveOptions,
        overrides: Overrides,
        conn: psycopg.Connection | None,
        provider: Provider | None,
        temp_id_style: str,
        salt: str | None,
        min_confidence: float,
        stats: ResolveStats,
        warn: Callable[[str], None],
    ) -> None:
        self.options = options
        self.overrides = overrides
        self.conn = conn
        self.provider = provider  # None once disabled (a 401)
        self.provider_name = provider.name if provider is not None else "none"
        self.style = temp_id_style
        self.salt = salt
        self.min_confidence = min_confidence
        self.stats = stats
        self.warn = warn
        self.budget_left = options.budget
        self.asked: dict[str, Candidate | None] = {}  # normalized name -> provider answer
        self.temp_ids: dict[str, str] = {}
        self.queued_this_run: set[str] = set()
        self.unknown: Counter[str] = Counter()  # normalized name -> rows with a temp ID
        self.first_spelling: dict[str, str] = {}
        self._warned: set[str] = set()
        # Only the levels that have overrides are worth a look per row.
        self._yaml_levels = [(t, f) for t, f in LEVELS if overrides.get(t)]
        # Names repeat across rows: normalize each spelling once per run.
        self._normalize = lru_cache(maxsize=1 << 17)(normalize_name)
        stats.budget_remaining = options.budget

    @property
    def writes(self) -> bool:
        return self.conn is not None and not self.options.plan_only

    def resolve_batch(self, rows: list[RowKeys]) -> list[Resolution]:
        normalize = self._normalize
        keys = [
            _Keys(r.plan.strip(), r.account.strip(), normalize(r.name), r.account_name.strip())
            for r in rows
        ]
        results: list[Resolution | None] = [self._from_yaml(k) for k in keys]
        self._from_database(keys, results)
        self._from_existing(rows, keys, results)
        self._from_provider(rows, keys, results)
        self._temporary(rows, keys, results)
        self.stats.total_rows += len(rows)
        return [r if r is not None else Resolution(None, "unresolved") for r in results]

    # Layer 1 ---------------------------------------------------------------
    def _from_yaml(self, keys: _Keys) -> Resolution | None:
        for match_type, field in self._yaml_levels:
            key = getattr(keys, field)
            if key:
                found = self.overrides[match_type].get(key)
                if found is not None:
                    self.stats.yaml_hits[match_type] += 1
                    return Resolution(found, f"yaml:{match_type}")
        return None

    # Layer 2 ---------------------------------------------------------------
    def _from_database(self, keys: list[_Keys], results: list[Resolution | None]) -> None:
        if self.conn is None:
            return
        row_pairs = [
            _pairs(k) if done is None else [] for k, done in zip(keys, results, strict=True)
        ]
        wanted = {pair for pairs in row_pairs for pair in pairs}
        if not wanted:
            return
        conn = self.conn
        hits = self._guard("cache", lambda: mappings.lookup(conn, sorted(wanted)))
        if hits is None:
            self.conn = None  # the cache is gone: the rest of the run is offline
            self.stats.db_available = False
            return
        for index, pairs in enumerate(row_pairs):
            for pair in pairs:
                hit = hits.get(pair)
                if hit is not None:
                    results[index] = Resolution(hit.canonical_id, f"db:{pair[0]}")
                    self.stats.db_cache_hits += 1
                    break

    # Layer 3 ---------------------------------------------------------------
    def _from_existing(
        self, rows: list[RowKeys], keys: list[_Keys], results: list[Resolution | None]
    ) -> None:
        backflow: list[tuple[str, str, str, int]] = []
        for index, row in enumerate(rows):
            existing = row.existing.strip()
            if results[index] is not None or not existing:
                continue
            results[index] = Resolution(existing, "existing")
            self.stats.existing_column_hits += 1
            k = keys[index]
            for match_type, key in (
                ("account", k.account),
                ("name", k.name),
                ("account_name", k.account_name),
            ):
                if key and len(key) <= MAX_ALIAS and len(existing) <= 100:
                    backflow.append((key, existing, match_type, PRIORITIES[match_type]))
        if not backflow or not self.writes or not self.options.backflow:
            return
        conn = self.conn
        assert conn is not None

        def write() -> mappings.InsertOutcome:
            with conn.transaction():
                return mappings.insert_checked(conn, backflow, "backflow")

        outcome = self._guard("backflow", write)
        if outcome is not None:
            self.stats.backflow["inserted"] += outcome.inserted
            self.stats.backflow["skipped"] += outcome.skipped
            self.stats.backflow["conflicts"] += outcome.conflicts

    # Layer 4 ---------------------------------------------------------------
    def _from_provider(
        self, rows: list[RowKeys], keys: list[_Keys], results: list[Resolution | None]
    ) -> None:
        if self.provider is None or self.options.plan_only:
            return
        learned: list[Learned] = []
        for index, k in enumerate(keys):
            if results[index] is not None or not k.name:
                continue
            if k.name not in self.asked:
                if self.budget_left <= 0 or self.provider is None:
                    continue
                self.budget_left -= 1
                self.stats.budget_consumed += 1
                self.stats.budget_remaining = self.budget_left
                answer = self._ask(self.provider, rows[index].name)
                self.asked[k.name] = answer
                if answer is not None:
                    learned.append(
                        Learned(
                            rows[index].name.strip(),
                            k.name,
                            answer.company_id,
                            answer.official_name,
                            answer.unified_credit_code,
                        )
                    )
            answer = self.asked.get(k.name)
            if answer is not None:
                results[index] = Resolution(answer.company_id, self.provider_name)
                self.stats.eqc_sync_hits += 1
        if learned and self.writes:
            conn = self.conn
            assert conn is not None

            def write() -> None:
                with conn.transaction():
                    companies.record(conn, learned, self.provider_name)

            self._guard("cache", write)

    def _ask(self, provider: Provider, raw_name: str) -> Candidate | None:
        try:
            return best_accepted(provider.search(raw_name), self.min_confidence)
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

    # Layer 5 ---------------------------------------------------------------
    def _temporary(
        self, rows: list[RowKeys], keys: list[_Keys], results: list[Resolution | None]
    ) -> None:
        pending = [
            (index, k.name) for index, k in enumerate(keys) if results[index] is None and k.name
        ]
        if not pending:
            self.stats.unresolved += sum(1 for r in results if r is None)
            return
        new_names = sorted({name for _, name in pending if name not in self.temp_ids})
        if new_names and not self.options.plan_only:
            conn = self.conn if self.style == "sequence" else None
            self.temp_ids.update(assign(new_names, style=self.style, salt=self.salt, conn=conn))
        for index, name in pending:
            results[index] = Resolution(self.temp_ids.get(name), "temp")
            self.stats.temp_ids_generated += 1
            self.unknown[name] += 1
            self.first_spelling.setdefault(name, rows[index].name.strip())
        self.stats.unresolved += sum(1 for r in results if r is None)
        if self.options.queue:
            self._enqueue([n for n in new_names if n not in self.queued_this_run])

    def _enqueue(self, names: list[str]) -> None:
        names = [
            n for n in names if len(n) <= MAX_ALIAS and len(self.first_spelling[n]) <= MAX_ALIAS
        ]
        if not names or self.conn is None:
            return
        conn = self.conn
        if self.options.plan_only:
            open_now = self._guard("enqueue", lambda: queue.open_names(conn, names))
            if open_now is not None:
                self.stats.already_queued += len(open_now)
                self.stats.async_queued += len(names) - len(open_now)
            return

        def write() -> int:
            with conn.transaction():
                return queue.enqueue(
                    conn,
                    [self.first_spelling[n] for n in names],
                    names,
                    [self.temp_ids.get(n) for n in names],
                    skip_failed=True,
                )

        queued = self._guard("enqueue", write)
        if queued is not None:
            self.queued_this_run.update(names)
            self.stats.async_queued += queued
            self.stats.already_queued += len(names) - queued

    # -----------------------------------------------------------------------
    def _guard(self, what: str, action: Callable[[], T]) -> T | None:
        """Run a database step; a failure is counted, warned about once, and survived."""
        try:
            return action()
        except psycopg.Error as exc:
            message = translate(exc, target="").message
        except WdhError as exc:
            message = exc.message
        self.stats.errors[what] += 1
        self._warn_once(what, f"{what} failed, going on without it: {message}")
        return None

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.warn(message)
