"""Input and output tables of `wdh resolve`: xlsx or CSV in, the same format out.

Output keeps every input column in order with its values unchanged, plus
the company ID and its source. xlsx is read with python-calamine and written
with XlsxWriter in constant-memory mode (rows stream out in order); CSV keeps
its encoding. The output appears only when complete: it is written to a
temporary file and renamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import xlsxwriter
from python_calamine import CalamineError, CalamineWorkbook

from wdh_cli.errors import InputFileError
from wdh_cli.files import detect_encoding
from wdh_cli.sheets import cell_text

csv.field_size_limit(1 << 30)
XLSX_SUFFIXES = (".xlsx", ".xlsm")


@dataclass
class InputTable:
    """The header (as text) and the data rows (raw cell values) of the input."""

    path: Path
    format: str  # "xlsx" | "csv"
    header: list[str]
    rows: Iterator[list[Any]]
    encoding: str = "utf-8"
    total: int | None = None  # data rows, when the reader knows it up front

    def column(self, name: str) -> int | None:
        return self.header.index(name) if name in self.header else None


def open_input(path: Path, *, sheet: str | None = None) -> InputTable:
    """Open the input, check it has a header row; InputFileError (exit 2) otherwise."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if not path.is_file():
        raise InputFileError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _open_csv(path)
    if suffix in XLSX_SUFFIXES:
        return _open_xlsx(path, sheet)
    raise InputFileError(f"{path}: expected an .xlsx or .csv file")


def _open_csv(path: Path) -> InputTable:
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data)
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: neither UTF-8 nor GB18030 text") from None
    reader = csv.reader(io.StringIO(data.decode(encoding), newline=""))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise InputFileError(f"{path}: empty file (no header row)")
    return InputTable(path, "csv", [h.strip() for h in header], iter(reader), encoding)


def _open_xlsx(path: Path, sheet: str | None) -> InputTable:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputFileError(
            f"{path}: not a readable .xlsx workbook ({type(exc).__name__})"
        ) from exc
    names = workbook.sheet_names
    if sheet is not None and sheet not in names:
        raise InputFileError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(names)})")
    data = workbook.get_sheet_by_name(sheet) if sheet else workbook.get_sheet_by_index(0)
    rows = iter(data.iter_rows())
    header = next(rows, None)
    if header is None or not any(cell_text(cell).strip() for cell in header):
        raise InputFileError(f"{path}: sheet {data.name!r} is empty (no header row)")
    total = max(data.height - 1, 0)
    return InputTable(path, "xlsx", [cell_text(h).strip() for h in header], rows, total=total)


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
            # RFC 4180 line ends, so that CR and LF inside cells are quoted.
            self._csv = csv.writer(self._text, lineterminator="\r\n")
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
