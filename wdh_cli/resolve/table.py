"""The output table of `wdh resolve`: the input's format, complete or absent.

Output keeps every input column in order with its values unchanged, plus
the company ID and its source. xlsx is written with XlsxWriter in
constant-memory mode (rows stream out in order); CSV keeps the input's
encoding. The output appears only when complete: it is written to a
temporary file and renamed. Reading is wdh_cli.sheets.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from operator import add, attrgetter
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException

from wdh_cli.errors import InputFileError, OutputFileError, UsageError
from wdh_cli.files import create_beside, csv_writer, output_error
from wdh_cli.sheets import InputTable, column_letter

if TYPE_CHECKING:
    from wdh_cli.resolve.resolver import Known

_SUFFIX = attrgetter("suffix")  # an answer's output cells: company ID, source
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx"}  # the file written for each input format
XLSX_MAX_STRING = 32_767  # characters (UTF-16 code units) of a cell
XLSX_MAX_COLUMNS = 16_384
XLSX_STRING_CUT = -2  # XlsxWriter's return code for a string cut to the limit
SHOWN_CUTS = 10  # cut cells warned about one by one; the rest are counted
IO_BUFFER = 1 << 20  # bytes read or written per system call


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

    def __init__(self, table: InputTable, id_column: str, source_column: str) -> None:
        self.width = len(table.header)
        self.id_at = table.column(id_column)
        self.source_at = table.column(source_column)
        appended = [
            name
            for name, at in ((id_column, self.id_at), (source_column, self.source_at))
            if at is None
        ]
        self.header = [*table.header, *appended]
        self._in_place = self.id_at is not None or self.source_at is not None

    def rows(self, rows: list[list[Any]], found: list[Known]) -> list[list[Any]]:
        """The output rows of a batch (the padded input rows, one answer each)."""
        if self._in_place:
            return [
                self.row(cells, known.suffix[0], known.suffix[1])
                for cells, known in zip(rows, found, strict=True)
            ]
        if max(map(len, rows), default=self.width) == self.width:
            # Every (padded) row as wide as the header, the common case: the
            # answer's two cells appended, in C.
            return list(map(add, rows, map(_SUFFIX, found)))
        width = self.width
        return [
            [*cells[:width], *known.suffix, *cells[width:]]
            for cells, known in zip(rows, found, strict=True)
        ]

    def row(self, cells: list[Any], company_id: str, source: str) -> list[Any]:
        width = self.width
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


class OutputTable:
    """Writes the output in the input's format; visible only after `commit()`.

    A target that cannot be written (a directory, a read-only place, a full
    disk) is an OutputFileError (exit 2) naming it, and leaves nothing behind.
    An xlsx cell longer than Excel's limit is written cut to the limit, with a
    warning naming its row (the input's number) and column; every later cell
    of the row is still written.
    """

    def __init__(
        self,
        target: Path,
        table: InputTable,
        header: list[str],
        *,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.target = target
        self.format = table.format
        self._source = table
        self._header = header
        self._warn = warn
        self._cut = 0  # cells cut to Excel's limit
        fd, self._tmp = create_beside(target)
        self._row = 0
        self._text: TextIO | None = None
        self._book: Any = None
        try:
            self._open(fd, table, header)
        except BaseException:
            self.discard()
            raise

    def _open(self, fd: int, table: InputTable, header: list[str]) -> None:
        if self.format == "csv":
            # A large buffer: each write to the file lets the resolving thread
            # take the interpreter, and taking it back can wait a switch
            # interval (5 ms): few writes, few waits.
            self._text = os.fdopen(
                fd, "w", buffering=IO_BUFFER, encoding=table.encoding, newline=""
            )
            self._csv = csv_writer(self._text)
            self.write(header)
        else:
            os.close(fd)  # XlsxWriter writes the file by its name
            # Strings stay strings: without these options XlsxWriter would
            # turn "=..." into formulas and URLs into links.
            self._book = xlsxwriter.Workbook(
                str(self._tmp),
                {
                    "constant_memory": True,
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "default_date_format": "yyyy-mm-dd hh:mm:ss",
                },
            )
            self._sheet = self._book.add_worksheet()
            self._write_xlsx_row(header, table.header_row)

    def write_rows(self, rows: list[list[Any]], numbers: list[int] | None) -> None:
        """Write a batch of rows; `numbers`: their row numbers in a sheet, for messages."""
        try:
            if self._text is not None:
                self._csv.writerows(rows)
            else:
                assert numbers is not None  # a sheet's batches carry them
                for values, number in zip(rows, numbers, strict=True):
                    self._write_xlsx_row(values, number)
        except OSError as exc:
            raise output_error(self.target, exc) from None

    def write(self, values: list[Any], number: int = 0) -> None:
        """Write one row; `number` is its row number in the input, for messages."""
        try:
            if self._text is not None:
                self._csv.writerow(values)
            else:
                self._write_xlsx_row(values, number)
        except OSError as exc:
            raise output_error(self.target, exc) from None

    def _write_xlsx_row(self, values: list[Any], number: int) -> None:
        if any(isinstance(value, dt.timedelta) for value in values):
            # calamine reads durations as timedelta; Excel stores them as days.
            values = [
                v.total_seconds() / 86400 if isinstance(v, dt.timedelta) else v for v in values
            ]
        # write_row stops at the first cell that is not written whole (and
        # returns its code), leaving the rest of the row blank: the row is
        # then written cell by cell, each code checked.
        if self._sheet.write_row(self._row, 0, values):
            for column, value in enumerate(values):
                status = self._sheet.write(self._row, column, value)
                if status == XLSX_STRING_CUT:
                    self._cell_cut(number, column)
                elif status:
                    raise InputFileError(
                        f"{self._source.path}: row {number} has {len(values):,} cells with the "
                        f"added columns, more than an xlsx sheet holds ({XLSX_MAX_COLUMNS:,})"
                    )
        self._row += 1

    def _cell_cut(self, number: int, column: int) -> None:
        self._cut += 1
        if self._cut > SHOWN_CUTS:
            return
        name = self._header[column] if column < len(self._header) else ""
        if len(name) > 64:
            name = ""  # a header that long is named by its letter
        if column < len(self._source.header):  # an input column: its letter in the input
            letter = column_letter(self._source.first_column + column)
            label = f"{name!r} ({letter})" if name else letter
        else:
            label = repr(name) if name else f"{column_letter(column)} of the output"
        self._warn(
            f"{self._source.path}: row {number}, column {label}: text longer than Excel's "
            f"limit of {XLSX_MAX_STRING:,} characters, written cut to the limit"
        )

    def commit(self) -> None:
        if self._cut > SHOWN_CUTS:
            self._warn(
                f"{self._source.path}: {self._cut - SHOWN_CUTS} more cells cut to Excel's limit"
            )
        try:
            self._close()
            os.replace(self._tmp, self.target)
        except OSError as exc:
            raise output_error(self.target, exc) from None
        except XlsxWriterException as exc:
            raise OutputFileError(f"{self.target}: cannot write ({exc})") from None

    def discard(self) -> None:
        try:
            if self._text is not None:
                self._text.close()
                self._text = None
            if self._book is not None:
                _abandon(self._book)
                self._book = None
        finally:
            self._tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._book is not None:
            book, self._book = self._book, None
            book.close()

    def __enter__(self) -> OutputTable:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.discard()


def _abandon(book: Any) -> None:
    """Drop an unfinished workbook without `close()`, which would assemble the whole file.

    In constant-memory mode each worksheet streams its rows to a temporary
    file of its own; those are removed. The workbook is marked closed, or its
    destructor would close (write) it.
    """
    for sheet in book.worksheets():
        handle = getattr(sheet, "row_data_fh", None)
        if handle is not None:
            handle.close()
        name = getattr(sheet, "row_data_filename", None)
        if name:
            Path(name).unlink(missing_ok=True)
    book.fileclosed = True
