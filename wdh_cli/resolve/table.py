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
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import xlsxwriter

from wdh_cli.files import csv_writer
from wdh_cli.sheets import InputTable


def default_output(path: Path) -> Path:
    """`<stem>.resolved.<ext>` beside the input."""
    return path.with_name(f"{path.stem}.resolved{path.suffix}")


class OutputTable:
    """Writes the output in the input's format; visible only after `commit()`."""

    def __init__(self, target: Path, table: InputTable, extra: list[str]) -> None:
        self.target = target
        self.format = table.format
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        self._tmp = Path(name)
        self._row = 0
        self._text: TextIO | None = None
        self._book: Any = None
        header = [*table.header, *extra]
        if self.format == "csv":
            self._text = self._tmp.open("w", encoding=table.encoding, newline="")
            self._csv = csv_writer(self._text)
            self._csv.writerow(header)
        else:
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
            self._write_xlsx_row(header)

    def write(self, values: list[Any]) -> None:
        if self._text is not None:
            self._csv.writerow(values)
        else:
            self._write_xlsx_row(values)

    def _write_xlsx_row(self, values: list[Any]) -> None:
        if any(isinstance(value, dt.timedelta) for value in values):
            # calamine reads durations as timedelta; Excel stores them as days.
            values = [
                v.total_seconds() / 86400 if isinstance(v, dt.timedelta) else v for v in values
            ]
        self._sheet.write_row(self._row, 0, values)
        self._row += 1

    def commit(self) -> None:
        self._close()
        os.replace(self._tmp, self.target)

    def discard(self) -> None:
        try:
            self._close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._book is not None:
            self._book.close()
            self._book = None

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
