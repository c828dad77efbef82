"""The output table of `wdh resolve`: the input's format, complete or absent.

Output keeps every input column in order with its values unchanged, plus
the company ID and its source. xlsx is written with XlsxWriter in
constant-memory mode (rows stream out in order); CSV keeps the input's
encoding. The output appears only when complete: it is written to a
temporary file and renamed. Reading is wdh_cli.sheets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from operator import add
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from xlsxwriter.exceptions import XlsxWriterException

from wdh_cli.errors import InputFileError, OutputFileError, UsageError
from wdh_cli.files import create_beside, csv_writer, output_error
from wdh_cli.resolve import sheet_writer
from wdh_cli.resolve.sheet_writer import (
    XLSX_MAX_COLUMNS,
    XLSX_MAX_STRING,
    SheetProcess,
    SheetTooWide,
    SheetWriter,
)
from wdh_cli.sheets import InputTable, column_letter

SUFFIX = {"csv": ".csv", "xlsx": ".xlsx"}  # the file written for each input format
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

    def rows(self, rows: list[list[Any]], suffixes: list[list[Any]]) -> list[list[Any]]:
        """The output rows of a batch: the padded input rows, each with its answer's cells.

        `suffixes`: per row, [company ID, source] (an answer's `Known.suffix`).
        """
        if self._in_place:
            return [
                self.row(cells, suffix[0], suffix[1])
                for cells, suffix in zip(rows, suffixes, strict=True)
            ]
        if max(map(len, rows), default=self.width) == self.width:
            # Every (padded) row as wide as the header, the common case: the
            # answer's two cells appended, in C.
            return list(map(add, rows, suffixes))
        width = self.width
        return [
            [*cells[:width], *suffix, *cells[width:]]
            for cells, suffix in zip(rows, suffixes, strict=True)
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


def csv_output(file: int | Path, encoding: str) -> tuple[TextIO, Any]:
    """A CSV output (a file descriptor or a path) in the input's encoding, and its csv writer.

    A large buffer: each write to the file lets a resolving thread take the
    interpreter, and taking it back can wait a switch interval (5 ms): few
    writes, few waits.
    """
    text = open(file, "w", buffering=IO_BUFFER, encoding=encoding, newline="")  # noqa: SIM115
    return text, csv_writer(text)


class OutputTable:
    """Writes the output in the input's format; visible only after `commit()`.

    A target that cannot be written (a directory, a read-only place, a full
    disk) is an OutputFileError (exit 2) naming it, and leaves nothing behind.
    An xlsx cell longer than Excel's limit is written cut to the limit, with a
    warning naming its row (the input's number) and column; every later cell
    of the row is still written. An xlsx of many rows is written by a second
    process (wdh_cli.resolve.sheet_writer).
    """

    def __init__(
        self,
        target: Path,
        table: InputTable,
        header: list[str],
        *,
        warn: Callable[[str], None] = lambda message: None,
        writer_process_rows: int | None = None,
        written_elsewhere: bool = False,
    ) -> None:
        """`written_elsewhere`: another process writes the whole file at `tmp` (CSV only).

        This object still owns the file: `commit` renames it into place,
        `discard` removes it, whatever became of that process.
        """
        self.target = target
        self.format = table.format
        self._source = table
        self._header = header
        self._warn = warn
        fd, self.tmp = create_beside(target)  # renamed onto target by commit()
        self._text: TextIO | None = None
        self._sheet: SheetWriter | SheetProcess | None = None
        try:
            rows = (
                sheet_writer.WRITER_PROCESS_ROWS
                if writer_process_rows is None
                else writer_process_rows
            )
            if written_elsewhere:
                os.close(fd)
            else:
                self._open(fd, table, header, rows)
        except BaseException:
            self.discard()
            raise

    def _open(self, fd: int, table: InputTable, header: list[str], process_rows: int) -> None:
        if self.format == "csv":
            self._text, self._csv = csv_output(fd, table.encoding)
            self.write(header)
        else:
            os.close(fd)  # XlsxWriter writes the file by its name
            many = (table.total or 0) >= process_rows
            self._sheet = (
                SheetProcess(str(self.tmp), self.target) if many else SheetWriter(str(self.tmp))
            )
            self.write(header, table.header_row)

    def write_rows(self, rows: list[list[Any]], numbers: list[int] | None) -> None:
        """Write a batch of rows; `numbers`: their row numbers in a sheet, for messages."""
        try:
            if self._text is not None:
                self._csv.writerows(rows)
            else:
                assert numbers is not None and self._sheet is not None  # a sheet's batches
                self._sheet.write_rows(rows, numbers)
        except OSError as exc:
            raise output_error(self.target, exc) from None
        except SheetTooWide as exc:
            raise self._too_wide(exc) from None

    def write(self, values: list[Any], number: int = 0) -> None:
        """Write one row; `number` is its row number in the input, for messages."""
        self.write_rows([values], [number] if self._text is None else None)

    def _too_wide(self, exc: SheetTooWide) -> InputFileError:
        return InputFileError(
            f"{self._source.path}: row {exc.number} has {exc.width:,} cells with the "
            f"added columns, more than an xlsx sheet holds ({XLSX_MAX_COLUMNS:,})"
        )

    def _warn_cuts(self, cuts: list[tuple[int, int]], total: int) -> None:
        for number, column in cuts:
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
        if total > len(cuts):
            self._warn(f"{self._source.path}: {total - len(cuts)} more cells cut to Excel's limit")

    def commit(self) -> None:
        try:
            self._close()
            os.replace(self.tmp, self.target)
        except OSError as exc:
            raise output_error(self.target, exc) from None
        except XlsxWriterException as exc:
            raise OutputFileError(f"{self.target}: cannot write ({exc})") from None
        except SheetTooWide as exc:
            raise self._too_wide(exc) from None

    def discard(self) -> None:
        try:
            if self._text is not None:
                self._text.close()
                self._text = None
            if self._sheet is not None:
                sheet, self._sheet = self._sheet, None
                sheet.abandon()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._sheet is not None:
            sheet, self._sheet = self._sheet, None
            report = sheet.close()
            self._warn_cuts(report.cuts, report.cut_total)

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
