"""The output file of `wdh resolve`: the input's format, complete or absent.

Output keeps every input column in order with its values unchanged, plus
the company ID and its source (`OutputLayout`). A CSV keeps the input's
encoding and is written by polars, or by the csv module for rows read the
exact way (wdh_cli/tabular/csv_input.py); an xlsx is written by XlsxWriter in
constant-memory mode, in a second process for a large sheet
(wdh_cli/tabular/sheet_writer.py). Either is a `PendingFile` until the run
succeeds: it appears whole, or not at all.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from operator import add
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
from xlsxwriter.exceptions import XlsxWriterException

from wdh_cli.errors import InputFileError, OutputFileError, UsageError
from wdh_cli.files import PendingFile, csv_writer, output_error
from wdh_cli.tabular import sheet_writer
from wdh_cli.tabular.sheet_writer import (
    XLSX_MAX_COLUMNS,
    XLSX_MAX_STRING,
    SheetProcess,
    SheetTooWide,
    SheetWriter,
)
from wdh_cli.tabular.sheets import column_letter

SUFFIX = {"csv": ".csv", "xlsx": ".xlsx"}  # the file written for each input format


def default_output(path: Path, fmt: str) -> Path:
    """`<stem>.resolved.<ext>` beside the input (an .xlsm gives an .xlsx: no macros are written)."""
    return path.with_name(f"{path.stem}.resolved{SUFFIX[fmt]}")


def output_paths(
    source: Path, fmt: str, output: Path | None, export_unknown: Path | None, *, plan_only: bool
) -> Path | None:
    """The output file (None under plan-only), after refusing targets that would destroy data.

    The output must not be the input (compared after resolving links, so a
    link to it counts, and by inode, so a hard link does too) and must carry
    the suffix of the format written; --export-unknown must be neither.
    UsageError (exit 2) naming the paths otherwise.
    """
    target = None if plan_only else (output or default_output(source, fmt))
    if target is not None:
        if _same_file(target, source):
            raise UsageError(f"--output {target} is the input file {source}: choose another path")
        if target.suffix.lower() != SUFFIX[fmt]:
            raise UsageError(
                f"--output {target}: the output of {source} is {fmt}, "
                f"so its name must end in {SUFFIX[fmt]}"
            )
    if export_unknown is not None:
        for other, what in ((source, "the input file"), (target, "the output file")):
            if other is not None and _same_file(export_unknown, other):
                raise UsageError(
                    f"--export-unknown {export_unknown} is {what} {other}: choose another path"
                )
    return target


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


class OutputLayout:
    """Where a row's company ID and its source go in the output.

    Appended after the input's columns; but when the input already has those
    columns (a resolved file resolved again), overwritten in place, so the
    file keeps one pair at the same positions. Cells beyond the header stay
    after the appended columns.
    """

    def __init__(
        self, header: list[str], id_at: int | None, source_at: int | None, names: tuple[str, str]
    ) -> None:
        self.width = len(header)
        self.id_at = id_at
        self.source_at = source_at
        appended = [name for name, at in zip(names, (id_at, source_at), strict=True) if at is None]
        self.header = [*header, *appended]
        self._in_place = id_at is not None or source_at is not None

    def rows(self, rows: list[list[Any]], ids: list[Any], sources: list[str]) -> list[list[Any]]:
        """The output rows of a batch read as Python rows (padded to the header's width)."""
        if not self._in_place and set(map(len, rows)) <= {self.width}:
            # Every row as wide as the header, the common case: two cells appended, in C.
            return list(map(add, rows, map(list, zip(ids, sources, strict=True))))
        return [
            self.row(cells, company_id, source)
            for cells, company_id, source in zip(rows, ids, sources, strict=True)
        ]

    def row(self, cells: list[Any], company_id: Any, source: str) -> list[Any]:
        width = self.width
        cells = [*cells, *[""] * (width - len(cells))] if len(cells) < width else cells
        if not self._in_place:
            return [*cells[:width], company_id, source, *cells[width:]]
        values = cells[:width]
        appended = []
        if self.id_at is None:
            appended.append(company_id)
        else:
            values[self.id_at] = company_id
        if self.source_at is None:
            appended.append(source)
        else:
            values[self.source_at] = source
        return [*values, *appended, *cells[width:]]

    def frame(self, frame: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
        """The output columns of a batch read as a frame (`answers`: id, source)."""
        company, source = answers.to_series(0), answers.to_series(1)
        columns = list(frame.iter_columns())
        for at, values in ((self.id_at, company), (self.source_at, source)):
            if at is not None:
                columns[at] = values.alias(columns[at].name)
        appended = [
            values.alias(f"out{index}")
            for index, (at, values) in enumerate(((self.id_at, company), (self.source_at, source)))
            if at is None
        ]
        return pl.DataFrame([*columns, *appended])


class CsvOutput:
    """The CSV output, in the input's encoding: the header, then blocks of rows.

    A block read as a frame is written by polars (an empty cell, null, is
    written empty, as the csv module writes it); rows read the exact way by
    the csv module. A write that fails (a full disk) is an OutputFileError
    naming the output, and the output is dropped.
    """

    def __init__(self, target: Path, encoding: str, layout: OutputLayout) -> None:
        self.target = target
        self.layout = layout
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._file = PendingFile(target)
        self._write(
            (b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b"") + self._text_rows([layout.header])
        )

    def write_frame(self, frame: pl.DataFrame, answers: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        self.layout.frame(frame, answers).write_csv(
            buffer, include_header=False, line_terminator="\r\n", quote_style="necessary"
        )
        data = buffer.getvalue()
        if self._encoding != "utf-8":
            data = data.decode("utf-8").encode(self._encoding)
        self._write(data)

    def write_rows(self, rows: list[list[str]], answers: pl.DataFrame) -> None:
        ids = answers.to_series(0).fill_null("").to_list()
        sources = answers.to_series(1).to_list()
        self._write(self._text_rows(self.layout.rows(rows, ids, sources)))

    def _text_rows(self, rows: list[list[Any]]) -> bytes:
        text = io.StringIO()
        csv_writer(text).writerows(rows)
        return text.getvalue().encode(self._encoding)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._file.fd, view) :]
        except OSError as exc:
            self.discard()
            raise output_error(self.target, exc) from None

    def commit(self) -> None:
        self._file.commit()

    def discard(self) -> None:
        self._file.discard()

    def __enter__(self) -> CsvOutput:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()


class SheetOutput:
    """The xlsx output: rows in order, through XlsxWriter (in a child process for many rows).

    A cell longer than Excel's limit is written cut to it, with a warning
    naming its row (the input's number) and column; every later cell of the
    row is still written. A row wider than a sheet is an InputFileError
    naming it; a write that fails is an OutputFileError naming the output.
    """

    def __init__(
        self,
        target: Path,
        source: Path,
        input_header: list[str],
        first_column: int,
        layout: OutputLayout,
        *,
        rows: int,
        header_row: int,
        warn: Callable[[str], None] = lambda message: None,
        writer_process_rows: int | None = None,
    ) -> None:
        self.target = target
        self._source = source
        self._input_header = input_header
        self._first_column = first_column
        self._header = layout.header
        self._warn = warn
        self._file = PendingFile(target)
        threshold = (
            sheet_writer.WRITER_PROCESS_ROWS if writer_process_rows is None else writer_process_rows
        )
        self._sheet: SheetWriter | SheetProcess | None = None
        try:
            if rows >= threshold:
                self._sheet = SheetProcess(str(self._file.for_process(os.getpid())), target)
            else:
                self._sheet = SheetWriter(str(self._file.path))
            self.write_rows([layout.header], [header_row])
        except BaseException:
            self.discard()
            raise

    def write_rows(self, rows: list[list[Any]], numbers: list[int]) -> None:
        """Write rows; `numbers`: their row numbers in the input, for messages."""
        assert self._sheet is not None
        try:
            self._sheet.write_rows(rows, numbers)
        except OSError as exc:
            self.discard()
            raise output_error(self.target, exc) from None
        except SheetTooWide as exc:
            self.discard()
            raise self._too_wide(exc) from None

    def _too_wide(self, exc: SheetTooWide) -> InputFileError:
        return InputFileError(
            f"{self._source}: row {exc.number} has {exc.width:,} cells with the "
            f"added columns, more than an xlsx sheet holds ({XLSX_MAX_COLUMNS:,})"
        )

    def commit(self) -> None:
        try:
            if self._sheet is not None:
                sheet, self._sheet = self._sheet, None
                report = sheet.close()
                self._warn_cuts(report.cuts, report.cut_total)
        except OSError as exc:
            self.discard()
            raise output_error(self.target, exc) from None
        except XlsxWriterException as exc:
            self.discard()
            # XlsxWriter wraps the OSError of a failed write (a full disk).
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise output_error(self.target, cause) from None
            raise OutputFileError(f"{self.target}: cannot write ({exc})") from None
        except SheetTooWide as exc:
            self.discard()
            raise self._too_wide(exc) from None
        self._file.commit()

    def discard(self) -> None:
        try:
            if self._sheet is not None:
                sheet, self._sheet = self._sheet, None
                sheet.abandon()
        finally:
            self._file.discard()

    def _warn_cuts(self, cuts: list[tuple[int, int]], total: int) -> None:
        for number, column in cuts:
            name = self._header[column] if column < len(self._header) else ""
            if len(name) > 64:
                name = ""  # a header that long is named by its letter
            if column < len(self._input_header):  # an input column: its letter in the input
                letter = column_letter(self._first_column + column)
                label = f"{name!r} ({letter})" if name else letter
            else:
                label = repr(name) if name else f"{column_letter(column)} of the output"
            self._warn(
                f"{self._source}: row {number}, column {label}: text longer than Excel's "
                f"limit of {XLSX_MAX_STRING:,} characters, written cut to the limit"
            )
        if total > len(cuts):
            self._warn(f"{self._source}: {total - len(cuts)} more cells cut to Excel's limit")

    def __enter__(self) -> SheetOutput:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()
