"""`wdh resolve`: a spreadsheet in, the same spreadsheet with company IDs out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import psycopg

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseUnavailable, InputFileError, UsageError
from wdh_cli.files import atomic_text_file, csv_writer
from wdh_cli.mappings import levels
from wdh_cli.providers.base import Provider
from wdh_cli.providers.registry import open_provider
from wdh_cli.resolve.answers import AnswerBook
from wdh_cli.resolve.options import ResolveOptions
from wdh_cli.resolve.overrides import load_overrides
from wdh_cli.resolve.resolver import Known, Resolver, RowKeys
from wdh_cli.resolve.stats import ResolveStats
from wdh_cli.resolve.table import OutputLayout, OutputTable, output_paths
from wdh_cli.resolve.tuning import bulk_run
from wdh_cli.sheets import InputTable, cell_text, open_input
from wdh_cli.tempids.issuer import TempIdIssuer

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
    overrides = load_overrides(settings.mappings_dir)
    # Plan-only makes no temporary IDs, so it needs no salt.
    issuer = None if options.plan_only else TempIdIssuer.from_settings(settings)
    stats = ResolveStats()
    with ExitStack() as stack:
        stack.enter_context(bulk_run())
        conn = _connect(db, options, stack, warn)
        stats.db_available = conn is not None
        if issuer is not None:
            issuer.ensure_usable(conn)
        provider = _provider(settings, options, stack)
        resolver = Resolver(
            options=options,
            overrides=overrides,
            conn=conn,
            provider=provider,
            temp_ids=issuer,
            min_confidence=settings.eqc_min_confidence,
            lookup_ttl=settings.lookup_ttl,
            stats=stats,
            warn=warn,
        )
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
        book = AnswerBook(resolver, _row_keys_of(picks))
        cells_of = _key_cells(picks)

        def answer(batch: _Batch) -> list[Known]:
            return book.resolve_rows(list(map(cells_of, batch.cells)))

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
    columns = options.columns
    read = [getattr(columns, field) for field in (*levels.LEVELS.fields, "existing")]
    for name in (columns.output, columns.output_source):
        if name in read:
            raise UsageError(
                f"--col-output {columns.output}: the output column {name!r} is also a column "
                "resolve reads; choose another output name"
            )
    picks = {field: table.column(getattr(columns, field)) for field in levels.LEVELS.fields}
    picks["existing"] = table.column(columns.existing)
    if picks["name"] is None:
        found = ", ".join(repr(h) for h in table.header)
        raise InputFileError(
            f"{table.path}: no column {columns.name!r} (the customer name; --col-name renames it); "
            f"columns found: {found}"
        )
    return [picks.get(field) for field in RowKeys._fields]


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


def _key_cells(picks: list[int | None]) -> Callable[[list[Any]], KeyCells]:
    """A row's key cells (only the columns the input has), in one C-level call."""
    present = [at for at in picks if at is not None]
    if len(present) > 1:
        return itemgetter(*present)
    only = present[0]
    return lambda row: (row[only],)


def _row_keys_of(picks: list[int | None]) -> Callable[[KeyCells], RowKeys]:
    """The RowKeys of a row's key cells: the cells as text, "" for a column the input lacks."""
    slots = [at is not None for at in picks]

    def row_keys(cells: KeyCells) -> RowKeys:
        values = iter(cells)
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


def _provider(settings: Settings, options: ResolveOptions, stack: ExitStack) -> Provider | None:
    """The provider of layer 4, or None: plan-only asks nobody, and no budget asks nobody."""
    if options.plan_only or options.budget <= 0:
        return None
    provider = open_provider(settings, options.provider)
    if provider is not None:
        stack.callback(provider.close)
    return provider


def _export_unknown(handle: TextIO, resolver: Resolver) -> None:
    """company_name, temporary_id, occurrence_count: most frequent first."""
    writer = csv_writer(handle)
    writer.writerow(("company_name", "temporary_id", "occurrence_count"))
    ranked = sorted(resolver.unknown.items(), key=lambda item: (-item[1], item[0]))
    for key, count in ranked:
        writer.writerow((resolver.first_spelling[key], resolver.temp_ids.get(key, ""), count))
