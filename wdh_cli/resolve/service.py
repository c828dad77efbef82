"""`wdh resolve`: a spreadsheet in, the same spreadsheet with company IDs out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseUnavailable, InputFileError
from wdh_cli.files import atomic_text_file, csv_writer
from wdh_cli.resolve.answers import AnswerBook
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.resolver import Known, Resolver, RowKeys
from wdh_cli.resolve.setup import ResolverSetup
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.resolve.table import OutputLayout, OutputTable, output_paths
from wdh_cli.resolve.tuning import bulk_run
from wdh_cli.sheets import InputTable, cell_text, open_input

Progress = Callable[[int, int | None], None]


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
        # the whole run succeeds.
        writer: OutputTable | None = None
        if target is not None:
            writer = stack.enter_context(OutputTable(target, table, layout.header, warn=warn))
        unknown = (
            None
            if export_unknown is None
            else stack.enter_context(atomic_text_file(export_unknown))
        )
        done = 0
        book = AnswerBook(resolver, row_keys_of(picks))
        keys_of = _row_keys_text if table.format == "csv" else _row_keys_cells

        def answer(batch: _Batch) -> list[Known]:
            return book.resolve_rows(keys_of(batch.cells, picks))

        def finish(batch: _Batch, answered: Future[list[Known]]) -> None:
            nonlocal done
            found = answered.result()
            if writer is not None:
                writer.write_rows(layout.rows(batch.cells, found), batch.numbers)
            done += len(batch.cells)
            if progress is not None:
                progress(done, table.total)

        # One batch is resolved (mostly waiting on the database) in a worker
        # thread while the previous one is written here: the two overlap.
        # The resolver and its connection are only ever used by that thread.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wdh-resolve") as worker:
            previous: tuple[_Batch, Future[list[Known]]] | None = None
            for batch in _batches(table, options.batch_size):
                current = (batch, worker.submit(answer, batch))
                if previous is not None:
                    finish(*previous)
                previous = current
            if previous is not None:
                finish(*previous)
            worker.submit(book.close).result()
            worker.submit(resolver.finish).result()
        if unknown is not None:
            _export_unknown(unknown, resolver)
        if writer is not None:
            writer.commit()
            stats.output = str(writer.target)
    return stats


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


class _Batch(NamedTuple):
    numbers: list[int] | None  # each row's number in the sheet, for messages (xlsx only)
    cells: list[list[Any]]


def _batches(table: InputTable, size: int) -> Iterator[_Batch]:
    """Batches of rows padded to the header's width (so the added columns line up).

    Blank rows are dropped. Cells beyond the header are kept, after the added
    columns' places. A CSV row is a list of text, blank when no cell is
    truthy: its batches are cut with C-level iteration only, and carry no row
    numbers (nothing written to a CSV file is ever cut).
    """
    width = len(table.header)
    if table.format == "csv":
        rows = filter(any, table.rows)
        while cells := list(islice(rows, size)):
            if min(map(len, cells)) < width:
                cells = [_padded(row, width) for row in cells]
            yield _Batch(None, cells)
        return
    numbers: list[int] = []
    cells = []
    for number, row in table.numbered_rows():
        # A sheet's cells are values: 0 and FALSE are not blank.
        if not any(row) and all(cell in ("", None) for cell in row):
            continue
        numbers.append(number)
        cells.append(_padded(row, width))
        if len(cells) == size:
            yield _Batch(numbers, cells)
            numbers, cells = [], []
    if cells:
        yield _Batch(numbers, cells)


def _padded(row: list[Any], width: int) -> list[Any]:
    return row if len(row) >= width else [*row, *[""] * (width - len(row))]


KeyCells = tuple[Any, ...]  # the key cells of a row, as read
# A CSV row's key cells joined into one string: one object to hash and to
# compare, where a tuple is five (measured: a lookup loop over a 1M-row CSV
# took 3.0 s with joined keys, 5.5 s with tuples). NUL never joins cells
# that hold it themselves (checked per batch), so two rows share a key only
# when they share every key cell.
SEPARATOR = "\x00"


def _key_getter(picks: list[int | None]) -> Callable[[list[Any]], KeyCells]:
    """A row's key cells (only the columns the input has), in one C-level call."""
    present = [at for at in picks if at is not None]
    if len(present) > 1:
        return itemgetter(*present)
    only = present[0]
    return lambda row: (row[only],)


def _row_keys_cells(rows: list[list[Any]], picks: list[int | None]) -> list[Any]:
    """Each row's key cells, as a tuple (a sheet's cells are values of any type)."""
    return list(map(_key_getter(picks), rows))


def _row_keys_text(rows: list[list[Any]], picks: list[int | None]) -> list[Any]:
    """Each CSV row's key cells as one joined string; tuples for a batch with a NUL in a key."""
    cells = list(map(_key_getter(picks), rows))
    joined = list(map(SEPARATOR.join, cells))
    width = sum(at is not None for at in picks)
    if "".join(joined).count(SEPARATOR) != len(joined) * (width - 1):
        return cells
    return joined


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
