"""The xlsx output's cells, written by XlsxWriter here or in a second process.

XlsxWriter spends its own Python on every cell: on a large sheet that is
nine tenths of reading and writing it, and under the interpreter lock no
thread can overlap it with resolving. So a sheet of WRITER_PROCESS_ROWS rows
or more is written by a child process (`python -m
wdh_cli.resolve.sheet_writer PATH`), fed batches of rows through a pipe:
writing takes a second core while this process reads and resolves, and the
pipe's small buffer keeps the two in step (docs/commands.md, "Speed").

The child never prints: everything it has to say (the cells it cut, a row
too wide, an error) comes back as one pickled report when it is done. It
runs in a session of its own, so a Ctrl-C reaches only wdh, which then tells
the child to drop the file (or kills it).
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import xlsxwriter

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
        # Strings stay strings: without these options XlsxWriter would turn
        # "=..." into formulas and URLs into links.
        self._book: Any = xlsxwriter.Workbook(
            path,
            {
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
        self._book.close()
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


class WriterGone(Exception):
    """The writer process ended without a report (killed, or out of memory)."""


class SheetProcess:
    """A SheetWriter in a child process, with SheetWriter's methods.

    Errors raised in the child come back as the same exceptions (OSError,
    SheetTooWide, XlsxWriterException) from the call that meets them: a
    write when the pipe breaks, else `close`.
    """

    def __init__(self, path: str) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._child = subprocess.Popen(
            [sys.executable, "-m", "wdh_cli.resolve.sheet_writer", path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        assert self._child.stdin is not None and self._child.stdout is not None
        self._to: IO[bytes] = self._child.stdin
        self._from: IO[bytes] = self._child.stdout

    def write_rows(self, rows: list[list[Any]], numbers: list[int]) -> None:
        try:
            pickle.dump(("rows", rows, numbers), self._to, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            # The child stopped reading: it failed, and says why in its report.
            self._outcome()
            raise WriterGone(self._status()) from None

    def close(self) -> SheetReport:
        try:
            pickle.dump(("close",), self._to, protocol=pickle.HIGHEST_PROTOCOL)
            self._to.close()
        except BrokenPipeError:
            pass  # the report says why
        return self._outcome()

    def abandon(self) -> None:
        """Tell the child to drop the file; kill it if it does not end at once."""
        try:
            pickle.dump(("abandon",), self._to, protocol=pickle.HIGHEST_PROTOCOL)
            self._to.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._from.close()

    def _outcome(self) -> SheetReport:
        """The child's report: its SheetReport, or the exception it met, raised here."""
        try:
            kind, value = pickle.load(self._from)
        except (EOFError, pickle.UnpicklingError):
            self._child.wait()
            raise WriterGone(self._status()) from None
        finally:
            self._from.close()
        self._child.wait()
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def _status(self) -> str:
        code = self._child.poll()
        if code is not None and code < 0:
            return f"the xlsx writer process was ended by signal {-code}"
        return f"the xlsx writer process ended unexpectedly (exit status {code})"


def _serve(path: str, source: IO[bytes], sink: IO[bytes]) -> int:
    """The child's loop: write the rows it is sent, then report once."""
    writer: SheetWriter | None = None
    try:
        writer = SheetWriter(path)
        while True:
            message = pickle.load(source)
            if message[0] == "rows":
                writer.write_rows(message[1], message[2])
            elif message[0] == "close":
                report = writer.close()
                writer = None
                pickle.dump(("report", report), sink)
                return 0
            else:  # abandon
                return 0
    except EOFError:
        return 0  # wdh is gone: nothing to write for (the finally drops the file)
    except Exception as exc:  # every error goes back to wdh, to be raised there
        pickle.dump(("error", _portable(exc)), sink)
        return 1
    finally:
        if writer is not None:
            writer.abandon()
        sink.flush()


def _portable(exc: BaseException) -> BaseException:
    """The exception, or a plain one with its text when it cannot be pickled."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":
    # wdh handles the signals (and ends this process); a stray one must not
    # print a traceback here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Served by the module under its own name (not __main__), so the report's
    # classes unpickle in wdh.
    from wdh_cli.resolve import sheet_writer

    sys.exit(sheet_writer._serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
