"""The xlsx output's cells, written by XlsxWriter here or in a second process.

XlsxWriter spends its own Python on every cell: on a large sheet that is
nine tenths of reading and writing it, and under the interpreter lock no
thread can overlap it with resolving. So a sheet of WRITER_PROCESS_ROWS rows
or more is written by a child process (`python -m
wdh_cli.tabular.sheet_writer PATH`), fed batches of rows through a pipe:
writing takes a second core while this process reads and resolves, and the
pipe's small buffer keeps the two in step (docs/commands.md, "Speed").

The child (wdh_cli.tabular.child) reports the cells it cut once, when done;
its errors are raised again in wdh.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import zipfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import xlsxwriter

from wdh_cli.tabular.child import Child, Receive, Send, serve

XLSX_MAX_STRING = 32_767  # characters (UTF-16 code units) of a cell
XLSX_MAX_COLUMNS = 16_384
XLSX_STRING_CUT = -2  # XlsxWriter's return code for a string cut to the limit
SHOWN_CUTS = 10  # cut cells named one by one in warnings; the rest are counted
# Rows from which a sheet is written by a child process: below it, starting
# one (about 0.2 s) costs more than writing in this process.
WRITER_PROCESS_ROWS = 20_000

Cut = tuple[int, int]  # (the row's number in the input, 0-based output column)


class SheetTooWide(Exception):
    """A row with more cells than an xlsx sheet holds."""

    def __init__(self, number: int, width: int) -> None:
        super().__init__(number, width)
        self.number = number
        self.width = width


class SheetReport:
    """What writing a sheet found: cut cells (the first SHOWN_CUTS of them) and how many."""

    def __init__(self) -> None:
        self.cuts: list[Cut] = []
        self.cut_total = 0


class SheetWriter:
    """One worksheet in constant-memory mode (rows stream out in order)."""

    def __init__(self, path: str) -> None:
        # XlsxWriter's own files (the rows streamed out, the parts of the
        # workbook while it is assembled) live in a directory of their own,
        # removed whatever happens: a failed assembly (a full disk) would
        # otherwise leave its parts in the temporary directory.
        self._scratch = tempfile.mkdtemp(prefix="wdh-xlsx-")
        # Strings stay strings: without these options XlsxWriter would turn
        # "=..." into formulas and URLs into links.
        self._book: Any = xlsxwriter.Workbook(
            path,
            {
                "tmpdir": self._scratch,
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "default_date_format": "yyyy-mm-dd hh:mm:ss",
            },
        )
        self._sheet = self._book.add_worksheet()
        self._row = 0
        self.report = SheetReport()

    def write_rows(self, rows: list[list[Any]], numbers: list[int]) -> None:
        """Write rows in order; `numbers`: each one's row number in the input, for messages."""
        sheet_row = self._sheet.write_row
        for values, number in zip(rows, numbers, strict=True):
            if any(type(value) is dt.timedelta for value in values):
                # calamine reads durations as timedelta; Excel stores them as days.
                values = [
                    v.total_seconds() / 86400 if type(v) is dt.timedelta else v for v in values
                ]
            # write_row stops at the first cell not written whole (and returns
            # its code), leaving the rest blank: such a row is then written
            # cell by cell, each code checked.
            if sheet_row(self._row, 0, values):
                self._write_cells(values, number)
            self._row += 1

    def _write_cells(self, values: list[Any], number: int) -> None:
        report = self.report
        for column, value in enumerate(values):
            status = self._sheet.write(self._row, column, value)
            if status == XLSX_STRING_CUT:
                report.cut_total += 1
                if len(report.cuts) < SHOWN_CUTS:
                    report.cuts.append((number, column))
            elif status:
                raise SheetTooWide(number, len(values))

    def close(self) -> SheetReport:
        """Assemble the xlsx file (XlsxWriterException or OSError when it cannot be)."""
        try:
            self._book.close()
        except BaseException as exc:
            _let_go_of_zip_files(exc)
            raise
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return self.report

    def abandon(self) -> None:
        """Drop the unfinished workbook without assembling it.

        In constant-memory mode each worksheet streams its rows to a temporary
        file of its own; those are removed. The workbook is marked closed, or
        its destructor would close (write) it.
        """
        for sheet in self._book.worksheets():
            handle = getattr(sheet, "row_data_fh", None)
            if handle is not None:
                handle.close()
            name = getattr(sheet, "row_data_filename", None)
            if name:
                Path(name).unlink(missing_ok=True)
        self._book.fileclosed = True
        shutil.rmtree(self._scratch, ignore_errors=True)


def _let_go_of_zip_files(error: BaseException) -> None:
    """Close, without writing, the zip files a failed assembly left open in `error`'s frames.

    XlsxWriter opens the workbook's zip file and, when a write fails (a full
    disk), leaves it open. Collected later, ZipFile.__del__ would write its
    end again, fail again, and print a traceback ("Exception ignored in")
    after wdh's one-line error.
    """
    seen: BaseException | None = error
    while seen is not None:
        frames = seen.__traceback__
        while frames is not None:
            for value in frames.tb_frame.f_locals.values():
                if isinstance(value, zipfile.ZipFile) and value.fp is not None:
                    handle, value.fp = value.fp, None
                    with suppress(OSError, ValueError):
                        handle.close()  # its descriptor is closed even when the flush fails
            frames = frames.tb_next
        seen = seen.__context__


class SheetProcess:
    """A SheetWriter in a child process, with SheetWriter's methods.

    Errors raised in the child come back as the same exceptions (OSError,
    SheetTooWide, XlsxWriterException) from the call that meets them: a
    write when the child has stopped reading, else `close`.
    """

    def __init__(self, path: str, target: Path) -> None:
        what = f"the process writing {target}"
        self._child = Child("wdh_cli.tabular.sheet_writer", path, what=what)

    def write_rows(self, rows: list[list[Any]], numbers: list[int]) -> None:
        self._child.send(("rows", rows, numbers))

    def close(self) -> SheetReport:
        self._child.send(("close",))
        report: SheetReport = self._child.receive()[1]
        self._child.finish()
        return report

    def abandon(self) -> None:
        self._child.stop()


def _serve(path: str, receive: Receive, send: Send) -> None:
    """The child's loop: write the rows it is sent, then report once."""
    writer: SheetWriter | None = SheetWriter(path)
    try:
        while writer is not None:
            message = receive()
            if message[0] == "rows":
                writer.write_rows(message[1], message[2])
            elif message[0] == "close":
                report, writer = writer.close(), None
                send(("report", report))
            else:  # abandon
                return
    finally:
        if writer is not None:
            writer.abandon()  # an error, or wdh stopped or vanished: drop the rows


if __name__ == "__main__":
    # Served by the module under its own name (not __main__), so the report's
    # classes unpickle in wdh.
    from wdh_cli.tabular import sheet_writer

    sys.exit(serve(lambda receive, send: sheet_writer._serve(sys.argv[1], receive, send)))
