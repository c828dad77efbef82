"""`wdh rewrite --table`: temporary IDs the queue or a review has resolved become real ones.

A work table maps every resolved temporary ID to its company and how it was
resolved; the table is then walked in ranges of pages of about `batch` rows
(TID range scans: each page is read once, whatever the table's size), one
UPDATE per range, each committed. A rerun finds nothing left to do. Both
styles of temporary ID are the same to it: they are looked up as text.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg

from wdh_cli.db import Database
from wdh_cli.db.errors import altered_tables, lock_timeouts
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.progress import Progress
from wdh_cli.tempids.generator import TEMP_ID_PATTERN
from wdh_cli.warehouse import repository as tables
from wdh_cli.warehouse.checks import IDS, SOURCES, existing_columns, writable

DEFAULT_BATCH = 50_000
DEFAULT_SOURCE_COLUMN = "company_id_source"


@dataclass
class RewriteReport:
    """--json keys (docs/commands.md)."""

    rewritten: int = 0  # rows that got their real company (would, under --dry-run)
    still_temporary: int = 0  # rows holding a temporary ID with no real company yet
    batches: int = 0


def rewrite_table(
    db: Database,
    table: tables.TableRef,
    *,
    column: str = "company_id",
    source_column: str | None = None,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    stop: StopFlag | None = None,
    warn: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> RewriteReport:
    """Rewrite the resolved temporary IDs of `table`; source_column None: the default, if any."""
    report = RewriteReport()
    with ExitStack() as stack:
        conn = stack.enter_context(db.connect(autocommit=True))
        stack.enter_context(lock_timeouts(str(table), db.settings.lock_timeout))
        tables.set_lock_timeout(conn, db.settings.lock_timeout)
        have = existing_columns(conn, table)
        if column not in have:
            raise UsageError(f"{table}: no column {column!r} (--column names the ID column)")
        writable(table, have[column], f"column {column!r} (--column)", IDS)
        source = _source_column(table, have, column, source_column)
        if source is not None:
            writable(table, have[source], f"column {source!r} (--source-column)", SOURCES)
        stack.callback(tables.drop_work_tables, conn)
        with conn.transaction():
            tables.rewrite_map(conn)
        with altered_tables(str(table), "wdh rewrite"):
            if dry_run:
                report.rewritten = tables.count_rewritable(conn, table, column)
            else:
                _walk(conn, table, column, source, batch, report, stop, warn, progress)
            report.still_temporary = tables.count_temporary(conn, table, column, TEMP_ID_PATTERN)
    return report


def _source_column(
    table: tables.TableRef, have: dict[str, tables.Column], column: str, asked: str | None
) -> str | None:
    """The source column to set: the one asked for (it must exist), else the default if present.

    Never the ID column itself (one UPDATE cannot set a column twice).
    """
    if asked is not None and asked not in have:
        raise UsageError(f"{table}: no column {asked!r} (--source-column)")
    if asked == column:
        raise UsageError(
            f"{table}: --column and --source-column both name {column!r}: "
            "give the source its own column"
        )
    name = asked or DEFAULT_SOURCE_COLUMN
    return name if name in have and name != column else None


def _walk(
    conn: psycopg.Connection,
    table: tables.TableRef,
    column: str,
    source: str | None,
    batch: int,
    report: RewriteReport,
    stop: StopFlag | None,
    warn: Callable[[str], None],
    progress: Progress | None,
) -> None:
    """The table in ranges of pages, one committed UPDATE each.

    The page count is read once: rows the UPDATEs move past it hold real
    companies already, so they need no second look. `progress` counts rows
    walked by the same estimate: rows per page times the pages walked, of
    rows per page times the table's pages.
    """
    size = tables.pages(conn, table)
    # Rows per page from the planner's statistics; a table never analyzed has
    # none, and is taken to hold a typical 100 rows a page.
    per_page = size.rows_estimate / size.pages_estimate if size.rows_estimate > 0 else 100
    step = max(1, int(batch / per_page))
    total = round(per_page * size.pages)
    if progress is not None:
        progress(0, total)
    for first in range(0, size.pages, step):
        if stop is not None and stop.requested:
            warn(
                f"stopped by {stop.signal_name} after {report.batches} batch(es); "
                "run the same command again to finish"
            )
            break
        with conn.transaction():
            report.rewritten += tables.rewrite_pages(
                conn, table, column, source, first, first + step
            )
        report.batches += 1
        if progress is not None:
            progress(round(per_page * min(first + step, size.pages)), total)
