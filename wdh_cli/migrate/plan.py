"""Pure decisions of the runner: each migration's state, and what up/down would run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from wdh_cli.errors import MigrationStateError, UsageError
from wdh_cli.migrate.files import MigrationFile
from wdh_cli.migrate.history import AppliedMigration

State = Literal["applied", "baseline", "pending", "changed", "missing"]
Direction = Literal["up", "down"]

# States that count as applied: `baseline` is a migration recorded by
# `wdh migrate baseline` without running it (its objects already existed).
APPLIED_STATES: tuple[State, ...] = ("applied", "baseline")


@dataclass(frozen=True)
class MigrationStatus:
    """One migration as `wdh migrate status` shows it."""

    version: int
    description: str
    state: State
    applied_at: datetime | None
    checksum: str
    last_error: str | None = None

    @property
    def file(self) -> str:
        return f"{self.version:04d}_{self.description}.up.sql"


@dataclass(frozen=True)
class StatusReport:
    """`wdh migrate status`: every migration's state; current when all are applied."""

    migrations: list[MigrationStatus]
    json_properties: ClassVar[tuple[str, ...]] = ("current",)

    @property
    def current(self) -> bool:
        return all(s.state in APPLIED_STATES for s in self.migrations)


@dataclass(frozen=True)
class Step:
    """One migration to run in one direction."""

    migration: MigrationFile
    direction: Direction

    @property
    def file(self) -> str:
        m = self.migration
        return m.up_file if self.direction == "up" else m.down_file

    @property
    def sql(self) -> str:
        m = self.migration
        return m.up_sql if self.direction == "up" else m.down_sql


def compute_status(
    files: list[MigrationFile], history: list[AppliedMigration]
) -> list[MigrationStatus]:
    """Join files and history by version.

    A history row with success = false is a failed attempt: the migration is
    still `pending` (its transaction rolled back), with the error kept. A
    baselined row is `baseline` while its checksum matches the file (today's
    text, or a text the file had in an earlier release: `MigrationFile.matches`).
    """
    by_version = {row.version: row for row in history}
    statuses = []
    for migration in files:
        row = by_version.pop(migration.version, None)
        if row is None or not row.success:
            statuses.append(
                MigrationStatus(
                    migration.version,
                    migration.description,
                    "pending",
                    None,
                    migration.checksum,
                    row.error if row else None,
                )
            )
            continue
        state: State = "changed"
        if migration.matches(row.checksum):
            state = "baseline" if row.baseline else "applied"
        statuses.append(
            MigrationStatus(
                migration.version, migration.description, state, row.applied_at, migration.checksum
            )
        )
    for row in by_version.values():
        if row.success:
            statuses.append(
                MigrationStatus(
                    row.version, row.description, "missing", row.applied_at, row.checksum
                )
            )
    return sorted(statuses, key=lambda status: status.version)


def consistency_problems(statuses: list[MigrationStatus]) -> list[str]:
    """Applied migrations whose file was edited or removed, each with the way out."""
    problems = []
    for status in statuses:
        if status.state == "changed":
            problems.append(
                f"sql/migrations/{status.file} was edited after it was applied "
                f"(applied {status.applied_at:%Y-%m-%d %H:%M}); restore the file (a change "
                "belongs in a new migration), or if the edit is intended, record it with "
                "`wdh migrate repair`"
            )
        elif status.state == "missing":
            problems.append(
                f"sql/migrations/{status.file} was applied "
                f"({status.applied_at:%Y-%m-%d %H:%M}) but the file is missing; restore it"
            )
    return problems


def ensure_consistent(statuses: list[MigrationStatus]) -> None:
    """Refuse to run while an applied migration was edited or removed, naming the files."""
    problems = consistency_problems(statuses)
    if problems:
        raise MigrationStateError("refusing to migrate: " + "; ".join(problems))


def plan_up(
    statuses: list[MigrationStatus], files: list[MigrationFile], *, to: int | None = None
) -> list[Step]:
    """Pending migrations up to `to`, in version order."""
    ensure_consistent(statuses)
    known = {m.version: m for m in files}
    if to is not None and to not in known:
        raise UsageError(f"--to {to}: no migration with that version")
    applied = [s.version for s in statuses if s.state in APPLIED_STATES]
    highest = max(applied, default=0)
    steps = []
    for status in statuses:
        if status.state != "pending" or (to is not None and status.version > to):
            continue
        if status.version < highest:
            raise MigrationStateError(
                f"refusing to migrate: sql/migrations/{status.file} is pending but "
                f"{highest:04d} is already applied; renumber it after {highest:04d}"
            )
        steps.append(Step(known[status.version], "up"))
    return steps


def plan_down(
    statuses: list[MigrationStatus],
    files: list[MigrationFile],
    *,
    steps: int = 1,
    to: int | None = None,
    all_: bool = False,
) -> list[Step]:
    """Applied migrations to revert, newest first.

    A baselined migration is never reverted: wdh did not create its objects,
    and its down would drop another tool's tables with their data. A down
    that would need to is refused whole, so nothing is reverted.
    """
    ensure_consistent(statuses)
    known = {m.version: m for m in files}
    applied = sorted((s.version for s in statuses if s.state in APPLIED_STATES), reverse=True)
    if all_:
        chosen = applied
    elif to is not None:
        if to != 0 and to not in known:
            raise UsageError(f"--to {to}: no migration with that version")
        chosen = [version for version in applied if version > to]
    else:
        if steps < 1:
            raise UsageError("STEPS must be at least 1")
        chosen = applied[:steps]
    baselined = {s.version: s for s in statuses if s.state == "baseline"}
    refused = [baselined[version] for version in chosen if version in baselined]
    if refused:
        newest = max(s.version for s in baselined.values())
        files_ = ", ".join(f"sql/migrations/{s.file}" for s in sorted(refused, key=_version))
        raise MigrationStateError(
            f"refusing to revert: {files_} {'was' if len(refused) == 1 else 'were'} recorded by "
            "`wdh migrate baseline` (another tool made the objects, and a down would drop "
            "them with their data); nothing was reverted. "
            f"`wdh migrate down --to {newest}` reverts only what wdh applied"
        )
    return [Step(known[version], "down") for version in chosen]


def _version(status: MigrationStatus) -> int:
    return status.version
