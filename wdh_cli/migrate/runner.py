"""The migration service behind `wdh migrate up/down/status`.

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
from wdh_cli.errors import MigrationError
from wdh_cli.migrate import history
from wdh_cli.migrate.files import MigrationFile, discover
from wdh_cli.migrate.history import LockHolder
from wdh_cli.migrate.lock import migration_lock
from wdh_cli.migrate.plan import MigrationStatus, Step, compute_status, plan_down, plan_up

DEFAULT_LOCK_TIMEOUT = 60.0

WaitCallback = Callable[[LockHolder | None], None]
StepCallback = Callable[["StepResult"], None]


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


def status(db: Database) -> list[MigrationStatus]:
    files = discover()
    with db.connect(autocommit=True) as conn:
        return compute_status(files, history.applied(conn))


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


def _run(
    db: Database,
    planner: Callable[[list[MigrationStatus]], list[Step]],
    files: list[MigrationFile],
    *,
    dry_run: bool,
    lock_timeout: float,
    on_wait: WaitCallback | None,
    on_step: StepCallback | None,
) -> RunReport:
    with db.connect(autocommit=True) as conn:
        if dry_run:
            # No lock and no history table: a dry run must change nothing.
            return RunReport(True, planner(compute_status(files, history.applied(conn))))
        with migration_lock(conn, timeout=lock_timeout, on_wait=on_wait):
            history.create_table(conn)
            # Plan only once the lock is held: a run that waited must see
            # what the previous holder applied.
            report = RunReport(False, planner(compute_status(files, history.applied(conn))))
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
        error = translate(exc, target="")
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
