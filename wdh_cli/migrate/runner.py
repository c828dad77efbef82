"""The migration service behind `wdh migrate up/down/status/baseline/repair`.

One autocommit connection holds the session-level advisory lock for the whole
run; each migration runs in its own transaction together with its history row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from wdh_cli.db import Database
from wdh_cli.db.errors import translate
from wdh_cli.errors import MigrationError, MigrationStateError, UsageError
from wdh_cli.migrate import DEFAULT_LOCK_TIMEOUT, catalog, history, objects
from wdh_cli.migrate.files import MigrationFile, discover
from wdh_cli.migrate.history import AppliedMigration, LockHolder
from wdh_cli.migrate.lock import migration_lock
from wdh_cli.migrate.objects import DbObject
from wdh_cli.migrate.plan import (
    APPLIED_STATES,
    MigrationStatus,
    Step,
    compute_status,
    plan_down,
    plan_up,
)

WaitCallback = Callable[[LockHolder | None], None]
StepCallback = Callable[["StepResult"], None]
ConfirmCallback = Callable[["RepairPlan"], bool]
Check = Callable[[psycopg.Connection, list[MigrationStatus], list[Step]], None]


@dataclass(frozen=True)
class StepResult:
    file: str
    version: int
    direction: str
    execution_ms: int


@dataclass
class RunReport:
    """What a run did (or, with dry_run, would do)."""

    dry_run: bool
    planned: list[Step] = field(default_factory=list)
    done: list[StepResult] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaState:
    """Every migration's state, and the objects applied migrations create that are gone."""

    migrations: list[MigrationStatus]
    missing_objects: list[DbObject]


@dataclass(frozen=True)
class BaselineReport:
    """What `wdh migrate baseline` recorded, and objects of those migrations not found."""

    recorded: list[str]
    missing_objects: list[DbObject]


@dataclass(frozen=True)
class ChecksumRepair:
    version: int
    file: str
    recorded: str
    current: str


@dataclass(frozen=True)
class FailedAttempt:
    version: int
    file: str
    error: str | None


@dataclass(frozen=True)
class RepairPlan:
    """What `wdh migrate repair` would change; `missing` files it leaves alone."""

    checksums: list[ChecksumRepair]
    failed: list[FailedAttempt]
    missing: list[str]

    @property
    def empty(self) -> bool:
        return not self.checksums and not self.failed


@dataclass(frozen=True)
class RepairReport:
    plan: RepairPlan
    repaired: bool


def status(db: Database) -> list[MigrationStatus]:
    files = discover()
    with db.connect(autocommit=True) as conn:
        return compute_status(files, history.applied(conn))


def schema_state(db: Database) -> SchemaState:
    """Migration states plus a cheap catalog lookup of what the applied migrations create.

    Not `verify` (no replay, no scratch database): it sees a dropped schema,
    table or index, not a changed column.
    """
    files = discover()
    with db.connect(autocommit=True) as conn:
        statuses = compute_status(files, history.applied(conn))
        # changed: the file was edited since, but it still says best what was made.
        done = {s.version for s in statuses if s.state in (*APPLIED_STATES, "changed")}
        expected = objects.left_by(m.up_sql for m in files if m.version in done)
        present = set(catalog.existing(conn, expected))
    missing = [o for o in expected if o not in present]
    # A missing schema stands for everything in it: name it alone.
    gone = {o.name for o in missing if o.is_schema}
    return SchemaState(statuses, [o for o in missing if o.is_schema or o.schema not in gone])


def up(
    db: Database,
    *,
    to: int | None = None,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: WaitCallback | None = None,
    on_step: StepCallback | None = None,
) -> RunReport:
    """Apply pending migrations (up to `to`)."""
    files = discover()
    return _run(
        db,
        lambda statuses: plan_up(statuses, files, to=to),
        files,
        check=_refuse_to_adopt,
        dry_run=dry_run,
        lock_timeout=lock_timeout,
        on_wait=on_wait,
        on_step=on_step,
    )


def down(
    db: Database,
    *,
    steps: int = 1,
    to: int | None = None,
    all_: bool = False,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: WaitCallback | None = None,
    on_step: StepCallback | None = None,
) -> RunReport:
    """Revert applied migrations, newest first."""
    files = discover()
    return _run(
        db,
        lambda statuses: plan_down(statuses, files, steps=steps, to=to, all_=all_),
        files,
        dry_run=dry_run,
        lock_timeout=lock_timeout,
        on_wait=on_wait,
        on_step=on_step,
    )


def baseline(
    db: Database,
    *,
    version: int,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: WaitCallback | None = None,
) -> BaselineReport:
    """Record migrations 1..version as `baseline`, without running them (Flyway's baseline).

    For a database whose schema another tool made: wdh then owns only what
    it applies afterwards. Refused once wdh has any history.
    """
    files = discover()
    if version not in {m.version for m in files}:
        raise UsageError(f"--version {version}: no migration with that version")
    chosen = [m for m in files if m.version <= version]
    with (
        db.connect(autocommit=True) as conn,
        migration_lock(conn, timeout=lock_timeout, on_wait=on_wait),
    ):
        history.create_table(conn)
        recorded = [row for row in history.applied(conn) if row.success]
        if recorded:
            versions = ", ".join(f"{row.version:04d}" for row in recorded)
            raise MigrationStateError(
                f"refusing to baseline: wdh.schema_history already records migrations "
                f"({versions}); baseline is only for a database wdh has never migrated "
                "(`wdh migrate status` shows where this one stands)"
            )
        with conn.transaction():
            for migration in chosen:
                history.record(
                    conn,
                    version=migration.version,
                    description=migration.description,
                    checksum=migration.checksum,
                    execution_ms=0,
                    success=True,
                    baseline=True,
                )
        expected = objects.left_by(m.up_sql for m in chosen)
        present = set(catalog.existing(conn, expected))
    return BaselineReport([m.up_file for m in chosen], [o for o in expected if o not in present])


def repair(
    db: Database,
    *,
    confirm: ConfirmCallback,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_wait: WaitCallback | None = None,
) -> RepairReport:
    """Re-record the checksums of edited files and drop failed attempts (Flyway's repair).

    `confirm` sees the plan first (no lock is held while a person reads it);
    the plan is made again under the lock and must not have changed.
    """
    files = discover()
    with db.connect(autocommit=True) as conn:
        plan = repair_plan(files, history.applied(conn))
        if plan.empty or not confirm(plan):
            return RepairReport(plan, repaired=False)
        with migration_lock(conn, timeout=lock_timeout, on_wait=on_wait):
            history.create_table(conn)
            if repair_plan(files, history.applied(conn)) != plan:
                raise MigrationStateError(
                    "the migration history changed while waiting for confirmation; nothing was "
                    "repaired: run `wdh migrate repair` again"
                )
            with conn.transaction():
                for fix in plan.checksums:
                    history.set_checksum(conn, fix.version, fix.current)
                for attempt in plan.failed:
                    history.forget_failed(conn, attempt.version)
    return RepairReport(plan, repaired=True)


def repair_plan(files: list[MigrationFile], rows: list[AppliedMigration]) -> RepairPlan:
    """Edited files (recorded and current checksum), failed attempts, and missing files."""
    by_version = {m.version: m for m in files}
    checksums, failed, missing = [], [], []
    for row in rows:
        migration = by_version.get(row.version)
        file = migration.up_file if migration else f"{row.version:04d}_{row.description}.up.sql"
        if not row.success:
            failed.append(FailedAttempt(row.version, file, row.error))
        elif migration is None:
            missing.append(file)
        elif not migration.matches(row.checksum):
            checksums.append(ChecksumRepair(row.version, file, row.checksum, migration.checksum))
    return RepairPlan(checksums, failed, missing)


def _refuse_to_adopt(
    conn: psycopg.Connection, statuses: list[MigrationStatus], steps: list[Step]
) -> None:
    """On a database wdh has never migrated, refuse to "create" relations that already exist.

    Every up file is IF NOT EXISTS, so it would silently adopt another tool's
    tables, and a later down would drop them with their data. Schemas alone do
    not count: a schema made ready for wdh to fill is the usual hand-over, and
    0001's down keeps a schema that holds anything else. A database with
    history goes on as before.
    """
    if any(s.state != "pending" for s in statuses):
        return
    found = []
    for step in steps:
        relations = [o for o in objects.created(step.sql) if not o.is_schema]
        there = catalog.existing(conn, relations)
        if there:
            found.append(f"{step.migration.name} ({', '.join(o.describe() for o in there)})")
    if found:
        raise MigrationStateError(
            "refusing to migrate: objects these migrations create already exist, but "
            "wdh.schema_history records no migration: "
            + "; ".join(found)
            + ". If another tool made this schema, record the migrations it already matches "
            "with `wdh migrate baseline --version N` (nothing is run), compare with "
            "`wdh migrate verify`, then `wdh migrate up` applies the rest"
        )


def _run(
    db: Database,
    planner: Callable[[list[MigrationStatus]], list[Step]],
    files: list[MigrationFile],
    *,
    check: Check | None = None,
    dry_run: bool,
    lock_timeout: float,
    on_wait: WaitCallback | None,
    on_step: StepCallback | None,
) -> RunReport:
    with db.connect(autocommit=True) as conn:
        if dry_run:
            # No lock and no history table: a dry run must change nothing.
            statuses = compute_status(files, history.applied(conn))
            planned = planner(statuses)
            if check is not None:
                check(conn, statuses, planned)
            return RunReport(True, planned)
        with migration_lock(conn, timeout=lock_timeout, on_wait=on_wait):
            # Plan only once the lock is held: a run that waited must see
            # what the previous holder applied. A refused plan creates nothing.
            statuses = compute_status(files, history.applied(conn))
            report = RunReport(False, planner(statuses))
            if check is not None:
                check(conn, statuses, report.planned)
            history.create_table(conn)
            for step in report.planned:
                result = _apply(conn, step)
                report.done.append(result)
                if on_step is not None:
                    on_step(result)
            return report


def _apply(conn: psycopg.Connection, step: Step) -> StepResult:
    """Run one step and its history change in one transaction."""
    migration = step.migration
    start = time.perf_counter()
    try:
        with conn.transaction():
            conn.execute(step.sql)
            elapsed_ms = round((time.perf_counter() - start) * 1000)
            if step.direction == "up":
                history.record(
                    conn,
                    version=migration.version,
                    description=migration.description,
                    checksum=migration.checksum,
                    execution_ms=elapsed_ms,
                    success=True,
                )
            else:
                history.forget(conn, migration.version)
    except psycopg.Error as exc:
        user = None if conn.closed else conn.info.user
        error = translate(exc, target="", purpose="migrate", user=user)
        where = _error_line(step.sql, exc)
        message = f"sql/migrations/{step.file}{where}: {error.message}"
        if step.direction == "up":
            _record_failure(conn, migration, round((time.perf_counter() - start) * 1000), message)
        raise MigrationError(
            f"migration failed and was rolled back: {message}", detail=error.detail
        ) from exc
    return StepResult(step.file, migration.version, step.direction, elapsed_ms)


def _error_line(sql: str, exc: psycopg.Error) -> str:
    position = exc.diag.statement_position
    if not position or not position.isdigit():
        return ""
    return f" line {sql[: int(position)].count(chr(10)) + 1}"


def _record_failure(
    conn: psycopg.Connection, migration: MigrationFile, execution_ms: int, message: str
) -> None:
    """Keep a success = false row so status can show the failed attempt."""
    if conn.closed or conn.broken:
        return
    try:
        with conn.transaction():
            history.record(
                conn,
                version=migration.version,
                description=migration.description,
                checksum=migration.checksum,
                execution_ms=execution_ms,
                success=False,
                error=message,
            )
    except psycopg.Error:
        pass  # the original error is what the user needs to see
