"""Reading spreadsheets: xlsx and ods (python-calamine) and CSV (UTF-8, BOM or not, or GB18030).

One reader serves `wdh resolve` (every cell, as read), `wdh review apply`,
and `wdh queue enqueue --file` and `wdh names check` (one column, as text).
An OpenDocument spreadsheet (.ods, as LibreOffice saves by default) is read
only by the callers that ask for it (`ods=True`): resolve writes its output
in the input's format, and writes no .ods.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from wdh_cli.errors import InputFileError
from wdh_cli.files import detect_file_encoding
from wdh_cli.tabular.cell_errors import CellError, ErrorCells, error_cells

XLSX_SUFFIXES = (".xlsx", ".xlsm")
ODS_SUFFIX = ".ods"


def cell_text(value: object) -> str:
    """A cell as the text a person sees: 12345.0 -> "12345", None -> "".

    An error cell (#N/A) is blank: it holds no key.
    """
    if type(value) is str:  # the common case first: this runs for every key cell
        return value
    if value is None or isinstance(value, CellError):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def find_column(
    path: Path, fmt: str, header: list[str], name: str, first_column: int = 0
) -> int | None:
    """Where the column `name` is in `header`; None if there is none.

    Two columns of that name make reading it ambiguous: an InputFileError
    (exit 2) naming them. Only the columns read go through here, so other
    duplicate headers are kept as they are.
    """
    found = [index for index, cell in enumerate(header) if cell == name]
    if len(found) > 1:
        where = ", ".join(column_label(fmt, index, first_column) for index in found)
        raise InputFileError(
            f"{path}: {len(found)} columns are named {name!r} ({where}); "
            "which one to read is ambiguous: rename all but one"
        )
    return found[0] if found else None


def column_label(fmt: str, index: int, first_column: int = 0) -> str:
    """How a person finds a column: its letter in a sheet, its number in a CSV file."""
    if fmt == "csv":
        return f"column {index + 1}"
    return f"column {column_letter(first_column + index)}"


@dataclass
class InputTable:
    """The header (as text) and the data rows (raw cell values) of the input.

    The header is the first row that is not blank, as a person reading the
    sheet would take it; `header_row` is its number in the file or sheet
    (1-based), so data rows are numbered from `header_row + 1` on, blank ones
    included, as the file or sheet numbers them. `first_column` is the
    (0-based) sheet column of the first cell of each row.
    """

    path: Path
    format: str  # "xlsx" | "ods" | "csv"
    header: list[str]
    rows: Iterator[list[Any]]
    encoding: str = "utf-8"
    total: int | None = None  # data rows, when the reader knows it up front
    header_row: int = 1
    first_column: int = 0
    again: Callable[[], Iterator[list[Any]]] | None = None  # a fresh pass over the data rows

    def column(self, name: str) -> int | None:
        """Where the column `name` is; None if there is none (see `find_column`)."""
        return find_column(self.path, self.format, self.header, name, self.first_column)

    def column_label(self, index: int) -> str:
        return column_label(self.format, index, self.first_column)

    def rows_again(self) -> Iterator[list[Any]]:
        """A fresh pass over the data rows (a sheet held in memory can be read twice)."""
        if self.again is None:
            raise TypeError(f"{self.path}: this input is read once")
        return self.again()

    def numbered_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number in the file or sheet, cells) for every row after the header."""
        return enumerate(self.rows, start=self.header_row + 1)


def open_input(
    path: Path, *, sheet: str | None = None, formulas: bool = False, ods: bool = False
) -> InputTable:
    """Open the input, check it has a header row; InputFileError (exit 2) otherwise.

    `formulas`: an xlsx cell holding a formula saved without its value is
    read as `cell_errors.NO_VALUE` instead of "" (for files of human size).
    `ods`: an .ods file is read too (its cells hold the values its program
    calculated; an error cell reads as "").
    """
    if input_format(path, ods=ods) == "csv":
        return _open_csv(path)
    return _open_xlsx(path, sheet, formulas)


def input_format(path: Path, *, ods: bool = False) -> str:
    """The kind of input by its suffix: csv, or xlsx for a workbook (.xlsx, .xlsm, and .ods
    when `ods`); InputFileError (exit 2) when there is no such file or wdh does not read it."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if not path.is_file():
        raise InputFileError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in XLSX_SUFFIXES or (ods and suffix == ODS_SUFFIX):
        return "xlsx"
    raise InputFileError(f"{path}: expected an .xlsx{', .ods' if ods else ''} or .csv file")


BOM = "\ufeff"


def _find_header(rows: Iterator[list[Any]]) -> tuple[int, list[str]] | None:
    """(row number, header as text) of the first row that is not blank; None if all are."""
    for number, row in enumerate(rows, start=1):
        header = [
            (cell if isinstance(cell, CellError) else cell_text(cell)).strip() for cell in row
        ]
        if number == 1 and header and header[0].startswith(BOM):
            # A byte-order mark the decoding kept (GB18030 has its own, and
            # UTF-8 text may carry one after another encoding's): not a name.
            header[0] = header[0].removeprefix(BOM).strip()
        if any(header):
            return number, header
    return None


def _open_csv(path: Path) -> InputTable:
    """The file is read as it is consumed (memory does not grow with rows).

    The encoding is settled first, by decoding the whole file chunk by chunk.
    """
    try:
        encoding = detect_file_encoding(path)
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: neither UTF-8 nor GB18030 text") from None
    return open_csv(path, encoding)


def open_csv(path: Path, encoding: str) -> InputTable:
    """A CSV whose encoding is known (`open_input` settled it): read as it is consumed."""
    rows = _csv_rows(path, encoding)
    found = _find_header(rows)
    if found is None:
        rows.close()
        raise InputFileError(f"{path}: empty file (no header row)")
    number, header = found
    return InputTable(path, "csv", header, rows, encoding, header_row=number)


def _csv_rows(path: Path, encoding: str) -> Generator[list[str], None, None]:
    # One record per row, as a spreadsheet shows the file (a blank line is a blank row).
    # A large buffer: few system calls.
    with path.open(encoding=encoding, newline="", buffering=1 << 20) as handle:
        yield from csv.reader(handle)


def _open_xlsx(path: Path, sheet: str | None, formulas: bool = False) -> InputTable:
    """A sheet of an xlsx workbook, or of an ods one (`format` "ods")."""
    kind = "ods" if path.suffix.lower() == ODS_SUFFIX else "xlsx"
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputFileError(
            f"{path}: not a readable .{kind} workbook ({type(exc).__name__})"
        ) from exc
    names = workbook.sheet_names
    if sheet is not None and sheet not in names:
        raise InputFileError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(names)})")
    if not names:
        raise InputFileError(f"{path}: the workbook has no sheet")
    name = sheet if sheet is not None else names[0]
    # The error cells are looked for while calamine loads the sheet (it lets
    # go of the GIL meanwhile), so that costs little extra time.
    # (cell_errors reads xlsx; of an ods it finds nothing, and calamine reads
    # its error cells as "".)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wdh-cell-errors") as pool:
        scan = pool.submit(error_cells, path, name, formulas=formulas)
        data = workbook.get_sheet_by_name(name)
        errors = scan.result()

    # calamine yields every row from the sheet's first one (blank rows above
    # the data included), and the columns from the first one that is used.
    def sheet_rows() -> Iterator[list[Any]]:
        rows = iter(data.iter_rows())
        if errors and data.start is not None:
            rows = _with_errors(rows, errors, data.start[1])
        return rows

    rows = sheet_rows()
    found = _find_header(rows)
    if found is None or data.end is None or data.start is None:
        raise InputFileError(f"{path}: sheet {data.name!r} is empty (no header row)")
    number, header = found

    def again() -> Iterator[list[Any]]:
        return islice(sheet_rows(), number, None)

    return InputTable(
        path,
        kind,
        header,
        rows,
        total=max(data.end[0] + 1 - number, 0),
        header_row=number,
        first_column=data.start[1],
        again=again,
    )


def _with_errors(
    rows: Iterator[list[Any]], errors: ErrorCells, first_column: int
) -> Iterator[list[Any]]:
    """calamine's rows with the error cells (and formulas without a value) it read as ""
    put back (rows count from 0)."""
    for index, row in enumerate(rows):
        found = errors.get(index)
        if found:
            for column, text in found.items():
                at = column - first_column
                if 0 <= at < len(row) and row[at] == "":
                    row[at] = text
        yield row


def read_column(path: Path, column: str, *, sheet: str | None = None) -> list[str]:
    """The values of one column, found by its header, as text (of a CSV, xlsx or ods file)."""
    table = open_input(path, sheet=sheet, ods=True)
    index = table.column(column)
    if index is None:
        found = ", ".join(repr(h) for h in table.header) or "none"
        raise InputFileError(f"{path}: no column {column!r} (columns: {found})")
    return [cell_text(row[index]) if index < len(row) else "" for row in table.rows]
