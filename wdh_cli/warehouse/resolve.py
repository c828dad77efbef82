"""`wdh resolve --table`: the five layers for a table's rows, written in place.

Only distinct keys travel: each batch of `batch` rows (in the table's
physical order, numbered in a work table) sends its distinct key tuples and
their row counts to Python, the AnswerBook answers each tuple as a file run
would, and one UPDATE joins the batch's rows to the answers. Each batch is
committed: a reader waits for one batch at most, and a run cut short is run
again (rows that already hold their answer are not written twice).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.db.errors import lock_timeouts
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.reports import json_field
from wdh_cli.resolve.answers import AnswerBook
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.resolve.resolver import Known
from wdh_cli.resolve.service import row_keys_of
from wdh_cli.resolve.setup import ResolverSetup
from wdh_cli.resolution.figures import ResolveStats
from wdh_cli.resolution.tuning import bulk_run
from wdh_cli.warehouse import repository as tables
from wdh_cli.warehouse.checks import existing_columns, output_columns, read_columns

DEFAULT_BATCH = 50_000
FIRST_CTID = "(0,0)"  # before every row: tuples are numbered from 1 in each page

Progress = Callable[[int, int | None], None]


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
    options = replace(options, require_db=True, batch_size=batch)
    setup = ResolverSetup(settings, options)
    stats = TableResolveStats(table=str(table))
    with ExitStack() as stack:
        stack.enter_context(bulk_run())
        conn = stack.enter_context(db.connect(autocommit=True))
        stack.enter_context(lock_timeouts(str(table), settings.lock_timeout))
        tables.set_lock_timeout(conn, settings.lock_timeout)
        tables.set_key_text_style(conn)
        have = existing_columns(conn, table)
        keys = read_columns(table, have, options.columns)
        id_column, source_column = options.columns.output, options.columns.output_source
        if not options.plan_only:
            output_columns(conn, table, have, id_column, source_column, add=add_columns)
        resolver = setup.start(conn, stack, stats, warn)
        columns = [column for _, column in keys if column is not None]
        book: AnswerBook[tuple[str, ...]] = AnswerBook(
            resolver, row_keys_of([column for _, column in keys])
        )
        stack.callback(tables.drop_work_tables, conn)
        with conn.transaction():
            tables.create_answers(conn, len(columns))
        bounds = tables.batch_bounds(conn, table, batch)
        file = tables.table_file(conn, table)
        sent: dict[tuple[str, ...], Known] = {}  # the answer wdh_answers holds for each tuple
        written: list[str] = []  # this run's transactions that wrote rows (their xmin)
        after = FIRST_CTID
        done = 0  # rows read so far (the figures are counted as answers retire)
        for bound in bounds:
            if stop is not None and stop.requested:
                warn(
                    f"stopped by {stop.signal_name} after {stats.batches} batch(es); "
                    "run the same command again to finish"
                )
                break
            span = (after, bound.last)
            counts = {
                tuple(cells): rows
                for cells, rows in tables.batch_keys(conn, table, columns, span, written)
            }
            if not counts:  # the open last batch, when the bounds end the table exactly
                after = bound.last
                continue
            done += sum(counts.values())
            answers = book.resolve_counts(counts)
            if not options.plan_only:
                fresh = [
                    (cells, known)
                    for cells, known in answers.items()
                    if sent.get(cells) is not known
                ]
                sent.update(fresh)
                with conn.transaction():
                    xid = tables.write_answers(
                        conn,
                        table,
                        (id_column, source_column),
                        columns,
                        span,
                        written,
                        (
                            (*cells, known.resolution.company_id, known.resolution.source)
                            for cells, known in fresh
                        ),
                    )
                if xid is not None:
                    written.append(xid)
            after = bound.last
            stats.batches += 1
            if progress is not None:
                progress(done, None)
        if tables.table_file(conn, table) != file:
            # Rows keep their own answers (rows are joined to answers by their
            # keys), but moved rows may have been skipped or read twice.
            warn(
                f"{table} was rewritten during the run (VACUUM FULL, CLUSTER or a table-"
                "rewriting ALTER): rows it moved may have been skipped; run the same command again"
            )
        book.close()
        resolver.finish()
    return stats
