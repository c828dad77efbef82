"""`wdh resolve FILE`: a spreadsheet in, the same spreadsheet with company IDs out.

The file is read in passes (wdh_cli/tabular/csv_input.py for a CSV; a sheet
read once by calamine, then held, for an xlsx); the engine
(wdh_cli/resolution/engine.py) works out every distinct key and name; a last
pass writes every row with its answer (wdh_cli/tabular/output.py). Nothing
is written under --plan-only, and the outputs appear only when the run
succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any

import polars as pl

from wdh_cli.config import Settings
from wdh_cli.db import Database
from wdh_cli.errors import InputFileError
from wdh_cli.files import atomic_text_file, people_csv_writer
from wdh_cli.progress import Progress
from wdh_cli.resolution.engine import Outcome, Run, RunSetup
from wdh_cli.resolution.figures import ResolveStats
from wdh_cli.resolution.frame import FrameRows
from wdh_cli.resolution.keys import KeyPlan
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular.csv_input import CsvInput, CsvPasses, column_name, open_csv_input
from wdh_cli.tabular.output import CsvOutput, OutputLayout, SheetOutput, output_paths
from wdh_cli.tabular.sheets import (
    InputTable,
    cell_text,
    find_column,
    input_format,
    open_input,
)

SHEET_BATCH = 5_000  # rows of a sheet sent to its writer at a time


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
    fmt = input_format(input_path)
    target = output_paths(input_path, fmt, output, export_unknown, plan_only=options.plan_only)
    source: CsvInput | InputTable = (
        open_csv_input(input_path) if fmt == "csv" else open_input(input_path, sheet=sheet)
    )
    first_column = source.first_column if isinstance(source, InputTable) else 0
    fields = _columns(input_path, fmt, source.header, first_column, options)
    layout = _layout(source.header, input_path, fmt, first_column, options)
    setup = RunSetup(settings, options)  # overrides and salt: checked before any work
    stats = ResolveStats()
    with ExitStack() as stack:
        # The outputs are opened (unnamed until the end) before any work, so
        # a path that cannot be written fails first, and neither appears
        # unless the whole run succeeds.
        unknown = None
        if export_unknown is not None:
            unknown = stack.enter_context(atomic_text_file(export_unknown))
        written: CsvOutput | SheetOutput | None = None
        if isinstance(source, CsvInput):
            passes = CsvPasses(source)
            csv_output = None
            if target is not None:
                csv_output = stack.enter_context(CsvOutput(target, source.encoding, layout))
            # At most a row per 16 bytes of the file: an upper bound for the cache's choice.
            most = input_path.stat().st_size // 16
            run, outcome, rows = _resolve(
                setup, db, options, stack, stats, warn, passes, fields, most
            )
            written = csv_output
            if csv_output is not None:
                _write_csv(passes, rows, fields, csv_output, progress)
        else:
            frame, numbers = _sheet_keys(source, fields)
            sheet_output = None
            if target is not None:
                sheet_output = stack.enter_context(
                    SheetOutput(
                        target,
                        source.path,
                        source.header,
                        source.first_column,
                        layout,
                        rows=len(numbers),
                        header_row=source.header_row,
                        warn=warn,
                    )
                )
            run, outcome, rows = _resolve(
                setup, db, options, stack, stats, warn, lambda: iter([frame]), fields, frame.height
            )
            written = sheet_output
            if sheet_output is not None:
                _write_sheet(source, numbers, rows.answers(frame), sheet_output, layout, progress)
        run.settle()  # the queue's write, which ran beside the output's
        if unknown is not None:
            writer = people_csv_writer(unknown)
            writer.writerow(("company_name", "temporary_id", "occurrence_count"))
            writer.writerows((name.spelling, name.temp_id, name.rows) for name in outcome.unknown)
        if written is not None:
            written.commit()
            stats.output = str(target)
    return stats


def _resolve(
    setup: RunSetup,
    db: Database,
    options: ResolveOptions,
    stack: ExitStack,
    stats: ResolveStats,
    warn: Callable[[str], None],
    passes: Callable[[], Iterator[Any]],
    fields: dict[str, int | None],
    most_rows: int,
) -> tuple[Run, Outcome, FrameRows]:
    """Connect (or go offline), and run the engine on the rows of `passes`."""
    run = setup.start(setup.connect(db, stack, warn), stack, stats, warn)

    def frames() -> Iterator[pl.DataFrame]:
        for item in passes():
            yield item if isinstance(item, pl.DataFrame) else _key_view(item.frame, fields)

    rows = FrameRows(KeyPlan(), frames, most_rows=most_rows)
    return run, run.resolve(rows), rows


def _columns(
    path: Path, fmt: str, header: list[str], first_column: int, options: ResolveOptions
) -> dict[str, int | None]:
    """Where each row field (the level table's, and `existing`) is in the input."""
    read = options.columns.read()
    fields = {
        field: find_column(path, fmt, header, name, first_column) for field, name in read.items()
    }
    if fields["name"] is None:
        found = ", ".join(repr(h) for h in header)
        raise InputFileError(
            f"{path}: no column {read['name']!r} (the customer name; --col-name renames "
            f"it); columns found: {found}"
        )
    return fields


def _key_view(frame: pl.DataFrame, fields: dict[str, int | None]) -> pl.DataFrame:
    """A block's row fields (null where the input has no such column)."""
    return frame.select(
        [
            pl.col(column_name(at)).alias(field)
            if at is not None
            else pl.lit(None, pl.String).alias(field)
            for field, at in fields.items()
        ]
    )


def _layout(
    header: list[str], path: Path, fmt: str, first_column: int, options: ResolveOptions
) -> OutputLayout:
    names = (options.columns.output, options.columns.output_source)
    id_at, source_at = (find_column(path, fmt, header, name, first_column) for name in names)
    return OutputLayout(header, id_at, source_at, names)


# CSV -------------------------------------------------------------------------
def _write_csv(
    passes: CsvPasses,
    rows: FrameRows,
    fields: dict[str, int | None],
    output: CsvOutput,
    progress: Progress | None,
) -> None:
    """The last pass: every row with its answer."""
    done = 0
    for block in passes():
        answers = rows.answers(_key_view(block.frame, fields))
        if block.rows is not None:
            output.write_rows(block.rows, answers)
        else:
            output.write_frame(block.frame, answers)
        done += block.frame.height
        if progress is not None:
            progress(done, None)


# xlsx ------------------------------------------------------------------------
def _blank(row: list[Any]) -> bool:
    """A sheet row with no value (0 and FALSE are values)."""
    return not any(row) and all(cell in ("", None) for cell in row)


def _sheet_keys(table: InputTable, fields: dict[str, int | None]) -> tuple[pl.DataFrame, list[int]]:
    """The row fields of every non-blank row of the sheet, as text, and each row's number.

    Made SHEET_BATCH rows at a time: a Python string per cell of the whole
    sheet held 80 MB more of a 200,000-row one (bench/bench_resolve.py).
    """
    numbers: list[int] = []
    schema = dict.fromkeys(fields, pl.String)
    parts: list[pl.DataFrame] = []
    rows = ((number, row) for number, row in table.numbered_rows() if not _blank(row))
    while batch := list(islice(rows, SHEET_BATCH)):
        numbers += [number for number, _ in batch]
        parts.append(
            pl.DataFrame(
                {
                    field: (
                        [
                            (cell_text(row[at]) or None) if at < len(row) else None
                            for _, row in batch
                        ]
                        if at is not None
                        else [None] * len(batch)
                    )
                    for field, at in fields.items()
                },
                schema=schema,
            )
        )
    frame = pl.concat(parts, rechunk=True) if parts else pl.DataFrame(schema=schema)
    return frame, numbers


def _write_sheet(
    table: InputTable,
    numbers: list[int],
    answers: pl.DataFrame,
    output: SheetOutput,
    layout: OutputLayout,
    progress: Progress | None,
) -> None:
    """The sheet read again, every row with its answer."""
    ids = answers.to_series(0).fill_null("").to_list()
    sources = answers.to_series(1).to_list()
    rows = (row for row in table.rows_again() if not _blank(row))
    done = 0
    while batch := list(islice(rows, SHEET_BATCH)):
        end = done + len(batch)
        output.write_rows(layout.rows(batch, ids[done:end], sources[done:end]), numbers[done:end])
        done = end
        if progress is not None:
            progress(done, len(numbers))
