"""The rules version of stored name keys: the write guard, `wdh names rekey`, `wdh names check`.

Every stored name key (name mappings, queue requests, the provider ledger)
was made by some version of the rules in wdh_cli/names.py; the database
records which (enterprise.name_rules, migration 0005). A wdh with other
rules must not add keys to it (two keys for one company), so the commands
that write name keys call `require_current_rules` first; reading commands
do not. `rekey` moves the stored keys to the current rules in one
transaction; `check` shows what that would change for a spreadsheet's names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import NameRulesError, UsageError
from wdh_cli.namekeys import repository
from wdh_cli.namekeys.repository import KeyConflict
from wdh_cli.names import CURRENT_VERSION, RULES, Normalizer, normalizer
from wdh_cli.tabular.sheets import read_column
from wdh_cli.tempids.generator import TempIdGenerator
from wdh_cli.tempids.issuer import hmac_generator

REKEY_COMMAND = "wdh names rekey"


def require_current_rules(conn: psycopg.Connection) -> None:
    """Refuse (exit 1) to write name keys into a database keyed with other rules."""
    stored = repository.stored_version(conn)
    if stored is None or stored == CURRENT_VERSION:
        return  # None: no schema, so no keys to mix with (the command meets that itself)
    if stored < CURRENT_VERSION:
        raise NameRulesError(
            f"the database's name keys were made with name rules version {stored}; this wdh "
            f"makes version {CURRENT_VERSION} keys and will not mix them: run "
            f"`{REKEY_COMMAND}` first (`wdh names check FILE` shows what changes; reading "
            "commands such as explain, resolve --plan-only and --offline still work)"
        )
    raise NameRulesError(
        f"the database's name keys were made with name rules version {stored}, newer than "
        f"this wdh's ({CURRENT_VERSION}): upgrade wdh before writing to it"
    )


@dataclass
class RekeyReport:
    """`wdh names rekey`: rows per outcome, over the three tables."""

    from_version: int
    version: int
    dry_run: bool
    keys_changed: int = 0  # stored rows whose key differs under the new rules
    merged: int = 0  # rows folded into another with the same new key and company
    conflicts: int = 0  # rows removed because they disagree with the row kept (audited)
    emptied: int = 0  # rows whose name is no company name under the new rules
    conflict_list: list[KeyConflict] = field(default_factory=list)


def rekey(db: Database, settings: Settings, *, dry_run: bool = False) -> RekeyReport:
    """Recompute every stored name key with the current rules, in one transaction.

    A dry run plans everything the same way and rolls back: the figures are
    the real run's, and nothing is written.
    """
    to_version = CURRENT_VERSION
    new = normalizer(to_version)
    with db.connect() as conn:
        try:
            with conn.transaction(force_rollback=dry_run):
                repository.lock_name_keys(conn)
                from_version = repository.stored_version(conn)
                assert from_version is not None  # the lock above found the tables
                if from_version > to_version:
                    require_current_rules(conn)  # raises: the database is newer
                report = RekeyReport(from_version, to_version, dry_run)
                repository.create_rekey_tables(conn)
                keys = list(repository.stored_keys(conn))
                repository.load_changed_keys(conn, _changed_keys(keys, new))
                requests = list(repository.stored_requests(conn))
                # With the salt, requests' HMAC IDs follow their new keys.
                generator = hmac_generator(settings)
                repository.load_changed_requests(conn, _changed_requests(requests, new, generator))
                for table in repository.TABLES:
                    counts = repository.plan(conn, table)
                    report.keys_changed += counts.keys_changed
                    report.merged += counts.merged
                    report.conflicts += counts.conflicts
                    report.emptied += counts.emptied
                report.conflict_list = repository.conflicts(conn)
                repository.apply_mappings(conn, from_version, to_version)
                repository.apply_ledger(conn, from_version, to_version)
                repository.apply_requests(conn)
                repository.set_version(conn, to_version)
        except psycopg.errors.UndefinedTable as exc:
            raise NameRulesError(
                "the database has no record of its name rules: run `wdh migrate up` first"
            ) from exc
    return report


def _changed_keys(keys: list[str], new: Normalizer) -> Iterator[tuple[str, str]]:
    for key in keys:
        fresh = new(key)
        if fresh != key:
            yield key, fresh


def _changed_requests(
    requests: list[tuple[str, str]],
    new: Normalizer,
    generator: TempIdGenerator | None,
) -> Iterator[tuple[str, str, str, str | None, str | None]]:
    for raw_name, key in requests:
        fresh = new(raw_name)
        if fresh != key:
            if generator is None or not fresh:
                yield raw_name, key, fresh, None, None
            else:
                yield raw_name, key, fresh, generator.for_key(key), generator.for_key(fresh)


@dataclass(frozen=True)
class KeyChange:
    name: str
    old_key: str
    new_key: str


@dataclass
class CheckReport:
    """`wdh names check`: the names of a column whose keys differ between two rule versions."""

    stored_version: int
    version: int
    names: int  # distinct non-blank names read
    keys_changed: int
    changes: list[KeyChange] = field(default_factory=list)


def check(
    db: Database | None, file: Path, column: str, *, from_version: int | None = None
) -> CheckReport:
    """Keys of the column's names under the stored (or given) version and the current one."""
    if from_version is None:
        assert db is not None
        with db.connect() as conn:
            from_version = repository.stored_version(conn)
        if from_version is None:
            raise NameRulesError(
                "the database has no name keys nor a record of its rules: run `wdh migrate up`"
            )
    if from_version not in RULES:
        known = ", ".join(str(v) for v in sorted(RULES))
        raise UsageError(f"--from-version {from_version}: this wdh knows versions {known}")
    old, new = normalizer(from_version), normalizer(CURRENT_VERSION)
    names = list(dict.fromkeys(n.strip() for n in read_column(file, column) if n.strip()))
    changes = [KeyChange(n, old(n), new(n)) for n in names if old(n) != new(n)]
    return CheckReport(from_version, CURRENT_VERSION, len(names), len(changes), changes)
