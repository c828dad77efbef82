"""`wdh resolve --table`: the five layers for a table's rows, written in place.

The engine (wdh_cli/resolution/engine.py) works out every distinct key and
name of the whole table first, through `TableRows` (the rows stay in
PostgreSQL); then the rows are written in committed batches of `batch` rows
(ranges of ctid), each one transaction: a reader waits for one batch at most, a
run cut short is simply run again, and rows that already hold their answer
are not written twice. The answers are those of a file of the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.db.errors import lock_timeouts
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.progress import Progress
from wdh_cli.reports import json_field
from wdh_cli.resolution.engine import RunSetup
from wdh_cli.resolution.figures import ResolveStats
from wdh_cli.resolution.keys import KeyPlan
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.warehouse import repository as tables
from wdh_cli.warehouse.checks import existing_columns, output_columns, read_columns
from wdh_cli.warehouse.repository import ResolveStatements
from wdh_cli.warehouse.rows import TableRows

DEFAULT_BATCH = 50_000
FIRST_CTID = "(0,0)"  # before every row: tuples are numbered from 1 in each page


@dataclass
class TableResolveStats(ResolveStats):
    """The figures of a file run, plus the table and the batches committed."""

    table: str = json_field(key="table", default="")
    batches: int = 0


def resolve_table(
    settings: Settings,
    db: Database,
    table: tables.TableRef,
    options: ResolveOptions,
    *,
    batch: int = DEFAULT_BATCH,
    add_columns: bool = False,
    stop: StopFlag | None = None,
    warn: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> TableResolveStats:
    """Resolve every row of `table` and write its output columns (not under plan-only)."""
    if options.offline:
        raise UsageError("--offline cannot be used with --table: the table is in the database")
    # The table is in the database: a run without it cannot go on offline.
    options = replace(options, require_db=True)
    setup = RunSetup(settings, options)
    stats = TableResolveStats(table=str(table))
    with ExitStack() as stack:
        conn = stack.enter_context(db.connect(autocommit=True))
        stack.enter_context(lock_timeouts(str(table), settings.lock_timeout))
        tables.set_lock_timeout(conn, settings.lock_timeout)
        tables.set_key_text_style(conn)
        have = existing_columns(conn, table)
        cells = dict(read_columns(table, have, options.columns))
        outputs = (options.columns.output, options.columns.output_source)
        if not options.plan_only:
            output_columns(conn, table, have, *outputs, add=add_columns)
        run = setup.start(conn, stack, stats, warn, degrade=False, beside=False)
        statements = ResolveStatements(table, cells, KeyPlan())
        stack.callback(statements.drop, conn)
        run.resolve(TableRows(conn, statements))
        if not options.plan_only:
            _write(conn, statements, table, outputs, batch, stats, stop, warn, progress)
    return stats


def _write(
    conn: psycopg.Connection,
    statements: ResolveStatements,
    table: tables.TableRef,
    outputs: tuple[str, str],
    batch: int,
    stats: TableResolveStats,
    stop: StopFlag | None,
    warn: Callable[[str], None],
    progress: Progress | None,
) -> None:
    """The rows in committed batches of `batch` rows, in the table's physical order."""
    bounds = tables.batch_bounds(conn, table, batch)
    total = stats.total_rows
    if len(bounds) > 1 and bounds[-2].rows == total:
        bounds.pop()  # the run's rows end at a batch's end: the open last range is empty
    file = tables.table_file(conn, table)
    after = FIRST_CTID
    for index, bound in enumerate(bounds):
        if stop is not None and stop.requested:
            warn(
                f"stopped by {stop.signal_name} after {stats.batches} batch(es); "
                "run the same command again to finish"
            )
            break
        with conn.transaction():
            statements.write_batch(conn, outputs, (after, bound.last))
        after = bound.last
        stats.batches += 1
        if progress is not None:
            progress(min((index + 1) * batch, total), total)
    if tables.table_file(conn, table) != file:
        # Rows keep their own answers (they are joined to answers by their
        # keys), but rows moved meanwhile may have been skipped.
        warn(
            f"{table} was rewritten during the run (VACUUM FULL, CLUSTER or a table-"
            "rewriting ALTER): rows it moved may have been skipped; run the same command again"
        )
