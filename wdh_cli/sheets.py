"""Reading spreadsheets: xlsx (python-calamine) and CSV (UTF-8 or GB18030), cells as text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from wdh_cli.errors import InputFileError
from wdh_cli.mappings.csv_file import decode

csv.field_size_limit(16 * 1024 * 1024)


def cell_text(value: object) -> str:
    """A cell as the text a person sees: 12345.0 -> "12345", None -> ""."""
    if type(value) is str:  # the common case first: this runs for every key cell
        return value
    if value is None:
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


def iter_rows(path: Path, *, sheet: str | None = None) -> Iterator[list[str]]:
    """Every row (header first) as text cells."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from csv.reader(io.StringIO(decode(path), newline=""))
        return
    if suffix not in (".xlsx", ".xlsm", ".xls", ".ods"):
        raise InputFileError(f"{path}: not an .xlsx or .csv file")
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputFileError(f"{path}: not a readable spreadsheet ({type(exc).__name__})") from exc
    try:
        if sheet is None:
            data = workbook.get_sheet_by_index(0)
        elif sheet in workbook.sheet_names:
            data = workbook.get_sheet_by_name(sheet)
        else:
            found = ", ".join(workbook.sheet_names)
            raise InputFileError(f"{path}: no sheet named {sheet!r} (sheets: {found})")
        for row in data.iter_rows():
            yield [cell_text(value) for value in row]
    finally:
        workbook.close()


def read_column(path: Path, column: str, *, sheet: str | None = None) -> list[str]:
    """The values of one column, found by its header."""
    rows = iter_rows(path, sheet=sheet)
    header = [cell.strip() for cell in next(rows, [])]
    if column not in header:
        found = ", ".join(repr(h) for h in header) or "none"
        raise InputFileError(f"{path}: no column {column!r} (columns: {found})")
    index = header.index(column)
    return [row[index] if index < len(row) else "" for row in rows]
