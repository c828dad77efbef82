"""`wdh resolve`: a spreadsheet in, the same spreadsheet with company IDs out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from operator import attrgetter
from pathlib import Path
from typing import Any, TextIO

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseUnavailable, InputFileError
from wdh_cli.files import atomic_text_file, csv_writer
from wdh_cli.resolve import csv_process
from wdh_cli.resolve.answers import AnswerBook
from wdh_cli.resolve.csv_process import CsvProcess, Job
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.resolver import Known, Resolver, RowKeys
from wdh_cli.resolve.rows import (
    SEPARATOR,
    Batch,
    KeyCells,
    batches,
    row_keys_cells,
    row_keys_text,
)
from wdh_cli.resolve.setup import ResolverSetup
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.resolve.table import OutputLayout, OutputTable, output_paths
from wdh_cli.resolve.tuning import bulk_run
from wdh_cli.sheets import InputTable, cell_text, open_input

Progress = Callable[[int, int | None], None]
SUFFIX = attrgetter("suffix")  # an answer's output cells: [company ID, source]


def resolve_file(
    settings: Settings,
    db: Database,
    input_path: Path,
    options: ResolveOptions,
    *,
    sheet: str | None = None,
    output: Path | None = None,
    export_unknown: Path | None = None,
    warn: Callable[[str], None] = lambda message: None,
    progress: Progress | None = None,
) -> ResolveStats:
    """Resolve every row of the input and write the output (not under plan-only)."""
    table = open_input(input_path, sheet=sheet)
    target = output_paths(
        input_path, table.format, output, export_unknown, plan_only=options.plan_only
    )
    picks = _columns(table, options)
    layout = OutputLayout(table, options.columns.output, options.columns.output_source)
    setup = ResolverSetup(settings, options)
    stats = ResolveStats()
    with ExitStack() as stack:
        stack.enter_context(bulk_run())
        conn = _connect(db, options, stack, warn)
        stats.db_available = conn is not None
        resolver = setup.start(conn, stack, stats, warn)
        # Both outputs are opened (as temporary files) before any work, so a
        # path that cannot be written fails first, and neither appears unless
        # the whole run succeeds. A large CSV is read, keyed and written by a
        # second process (wdh_cli.resolve.csv_process), which opens the
        # output itself.
        elsewhere = _rows_elsewhere(input_path, table)
        writer: OutputTable | None = None
        if target is not None:
            writer = stack.enter_context(
                OutputTable(target, table, layout.header, warn=warn, written_elsewhere=elsewhere)
            )
        beside = None
        if elsewhere:
            job = _csv_job(table, picks, options, target, writer)
            beside = stack.enter_context(CsvProcess(job))
        unknown = (
            None
            if export_unknown is None
            else stack.enter_context(atomic_text_file(export_unknown))
        )
        book = AnswerBook(resolver, row_keys_of(picks))
        if beside is not None:
            _resolve_beside(beside, book, resolver, progress)
        else:
            _resolve_here(table, picks, options, layout, writer, book, resolver, progress)
        if unknown is not None:
            _export_unknown(unknown, resolver)
        if beside is not None:
            beside.finish()
        if writer is not None:
            writer.commit()
            stats.output = str(writer.target)
    return stats


def _resolve_here(
    table: InputTable,
    picks: list[int | None],
    options: ResolveOptions,
    layout: OutputLayout,
    writer: OutputTable | None,
    book: AnswerBook[Any],
    resolver: Resolver,
    progress: Progress | None,
) -> None:
    """Read, resolve and write in this process."""
    done = 0
    keys_of = row_keys_text if table.format == "csv" else row_keys_cells

    def answer(batch: Batch) -> list[Known]:
        return book.resolve_rows(keys_of(batch.cells, picks))

    def finish(batch: Batch, answered: Future[list[Known]]) -> None:
        nonlocal done
        found = answered.result()
        if writer is not None:
            writer.write_rows(layout.rows(batch.cells, list(map(SUFFIX, found))), batch.numbers)
        done += len(batch.cells)
        if progress is not None:
            progress(done, table.total)

    # One batch is resolved (mostly waiting on the database) in a worker
    # thread while the previous one is written here: the two overlap.
    # The resolver and its connection are only ever used by that thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wdh-resolve") as worker:
        previous: tuple[Batch, Future[list[Known]]] | None = None
        for batch in batches(table, options.batch_size):
            current = (batch, worker.submit(answer, batch))
            if previous is not None:
                finish(*previous)
            previous = current
        if previous is not None:
            finish(*previous)
        worker.submit(book.close).result()
        worker.submit(resolver.finish).result()


def _resolve_beside(
    csv: CsvProcess, book: AnswerBook[Any], resolver: Resolver, progress: Progress | None
) -> None:
    """The CSV process reads, keys and writes; this process answers each batch's tuples."""
    done = 0
    for batch in csv.batches():
        found = book.resolve_distinct(batch.keys, batch.counts)
        csv.answer(list(map(SUFFIX, found)))
        done += batch.rows
        if progress is not None:
            progress(done, None)
    book.close()
    resolver.finish()


def _rows_elsewhere(path: Path, table: InputTable) -> bool:
    """A CSV of CSV_PROCESS_BYTES or more: its rows are read and written by the CSV process."""
    return table.format == "csv" and path.stat().st_size >= csv_process.CSV_PROCESS_BYTES


def _csv_job(
    table: InputTable,
    picks: list[int | None],
    options: ResolveOptions,
    target: Path | None,
    writer: OutputTable | None,
) -> Job:
    """The CSV process's job: this process keeps only the header it read."""
    table.rows.close()  # type: ignore[attr-defined]  # a generator; the child reads the rows
    return Job(
        table.path,
        table.encoding,
        picks,
        options.batch_size,
        options.columns.output,
        options.columns.output_source,
        target,
        None if writer is None else writer.tmp,
    )


def _columns(table: InputTable, options: ResolveOptions) -> list[int | None]:
    """Where each RowKeys field is in the input (None: no such column).

    The fields are the level table's, plus the existing company ID.
    """
    read = options.columns.read()
    picks = {field: table.column(header) for field, header in read.items()}
    if picks["name"] is None:
        found = ", ".join(repr(h) for h in table.header)
        raise InputFileError(
            f"{table.path}: no column {read['name']!r} (the customer name; --col-name renames "
            f"it); columns found: {found}"
        )
    return [picks[field] for field in RowKeys._fields]


def row_keys_of(picks: Sequence[object | None]) -> Callable[[Any], RowKeys]:
    """The RowKeys of a row's key cells (a tuple, or a CSV row's joined string).

    `picks` has one entry per RowKeys field, None where the input has no such
    column; the cells are those of the other fields, in RowKeys order.
    """
    slots = [at is not None for at in picks]

    def row_keys(cells: KeyCells | str) -> RowKeys:
        values = iter(cells.split(SEPARATOR) if isinstance(cells, str) else cells)
        return RowKeys._make([cell_text(next(values)) if slot else "" for slot in slots])

    return row_keys


def _connect(
    db: Database, options: ResolveOptions, stack: ExitStack, warn: Callable[[str], None]
) -> psycopg.Connection | None:
    """The run's connection, or None (offline) when asked or when the server is down."""
    if options.offline:
        return None
    try:
        return stack.enter_context(db.connect(autocommit=True))
    except DatabaseUnavailable as exc:
        if options.require_db:
            raise
        warn(f"{exc.message}; going on offline (YAML, existing IDs, temporary IDs; nothing queued)")
        return None


def _export_unknown(handle: TextIO, resolver: Resolver) -> None:
    """company_name, temporary_id, occurrence_count: most frequent first."""
    writer = csv_writer(handle)
    writer.writerow(("company_name", "temporary_id", "occurrence_count"))
    ranked = sorted(resolver.unknown.items(), key=lambda item: (-item[1], item[0]))
    for key, count in ranked:
        writer.writerow((resolver.first_spelling[key], resolver.temp_ids.get(key, ""), count))
