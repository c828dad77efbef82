"""The review file: written for a person (xlsx or CSV), read back with their decisions
(xlsx, ods or CSV, as Excel, WPS or LibreOffice saved it).

One row per request. The xlsx is made for Excel and WPS: the header row is
frozen, the autofilter is on, `decision` offers a drop-down list, and every
ID and name is a text cell (an ID such as 000123 must not become the number
123); the columns a person types into are formatted as text too. The CSV is
UTF-8 with a BOM, so spreadsheet programs read its Chinese correctly, and a
CSV for people (files.people_csv_writer): a cell that would run as a formula
has an apostrophe in front, which reading takes off again. Both are written
to a temporary file and renamed. Reading goes through wdh_cli.tabular.sheets, the one
spreadsheet reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

from wdh_cli.companies.ids import clean_company_id
from wdh_cli.companies.repository import MAX_CREDIT_CODE, MAX_OFFICIAL_NAME
from wdh_cli.errors import InputFileError
from wdh_cli.files import atomic_path, atomic_text_file, people_csv_writer, unescape_cell
from wdh_cli.progress import Progress
from wdh_cli.reports import Rejected
from wdh_cli.review.repository import ReviewRequest
from wdh_cli.tabular.cell_errors import FormulaWithoutValue
from wdh_cli.tabular.sheets import cell_text, open_input

SUFFIXES = (".xlsx", ".csv")  # written by export; apply also reads .ods
CANDIDATES = 3  # candidate columns in the file
CANDIDATE_FIELDS = ("id", "name", "credit_code", "confidence")
COLUMNS: tuple[str, ...] = (
    "request_id",
    "raw_name",
    "normalized_name",
    "temp_id",
    "rows_seen",
    "reason",
    *(f"candidate_{n}_{f}" for n in range(1, CANDIDATES + 1) for f in CANDIDATE_FIELDS),
    "decision",
    "company_id",
    "note",
)
REQUIRED = ("request_id", "decision")
# What a person types: a spreadsheet program may keep an apostrophe in front.
TYPED = frozenset(
    [
        "request_id",
        "decision",
        "company_id",
        *(f"candidate_{n}_id" for n in range(1, CANDIDATES + 1)),
    ]
)
EXACT = 10**15  # spreadsheets keep numbers to 15 significant digits
NUMERIC = frozenset(["rows_seen", *(f"candidate_{n}_confidence" for n in range(1, 4))])
DECISIONS = ("1", "2", "3", "id", "none")
NONE = "none"

PROGRESS_EVERY = 200  # rows written between two progress reports

MAX_REQUEST_ID = 2**31 - 1  # enrichment_requests.id is a SERIAL (integer)

_WIDTHS = {"raw_name": 36, "normalized_name": 36, "reason": 28, "note": 30}
_HELP = "1, 2, 3: that candidate; id: the company in company_id; none: no company exists"

Cell = str | int | float | None
Getter = Callable[[str], str]  # a row's cell by column name, as trimmed text


@dataclass(frozen=True)
class ExportRow:
    """One request to decide, with the ledger's best candidates (dicts, best first)."""

    request: ReviewRequest
    candidates: Sequence[dict[str, Any]] = ()

    def cells(self) -> list[Cell]:
        r = self.request
        cells: list[Cell] = [
            str(r.id),
            r.raw_name,
            r.normalized_name,
            r.temp_id,
            r.rows_seen,
            r.last_error,
        ]
        for n in range(CANDIDATES):
            if n < len(self.candidates):
                c = self.candidates[n]
                confidence = c.get("confidence")
                cells += [
                    _text(c.get("company_id")),
                    _text(c.get("official_name")),
                    _text(c.get("unified_credit_code")),
                    float(confidence) if confidence is not None else None,
                ]
            else:
                cells += [None] * len(CANDIDATE_FIELDS)
        return [*cells, None, None, None]  # decision, company_id, note: for the person


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def write_review(path: Path, rows: Sequence[ExportRow], progress: Progress | None = None) -> None:
    """Write the review file atomically, as xlsx or CSV by its suffix; `progress`: rows written
    of len(rows)."""
    counted = _counted(rows, progress)
    if path.suffix.lower() == ".csv":
        # A BOM: Excel and WPS read BOM-less CSV in the machine's code page.
        with atomic_text_file(path, encoding="utf-8-sig") as handle:
            writer = people_csv_writer(handle)
            writer.writerow(COLUMNS)
            for row in counted:
                writer.writerow(row.cells())
        return
    with atomic_path(path) as tmp:
        _write_xlsx(tmp, counted, len(rows))


def _counted(rows: Sequence[ExportRow], progress: Progress | None) -> Iterator[ExportRow]:
    """The rows, reporting every PROGRESS_EVERY of them (and the last) as written."""
    total = len(rows)
    if progress is not None:
        progress(0, total)
    for number, row in enumerate(rows, start=1):
        yield row
        if progress is not None and (number % PROGRESS_EVERY == 0 or number == total):
            progress(number, total)


def _write_xlsx(target: Path, rows: Iterable[ExportRow], count: int) -> None:
    book = xlsxwriter.Workbook(
        str(target),
        {
            "constant_memory": True,
            # Strings stay strings: no numbers, formulas or links made of them.
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        sheet = book.add_worksheet("review")
        text = book.add_format({"num_format": "@"})
        bold = book.add_format({"bold": True})
        # Column formats first (constant memory writes rows in order). Text
        # format on every non-numeric column: what a person types or pastes
        # there (an ID like 000123) stays text.
        for index, name in enumerate(COLUMNS):
            width = _WIDTHS.get(name, 16)
            sheet.set_column(index, index, width, None if name in NUMERIC else text)
        for index, name in enumerate(COLUMNS):
            sheet.write_string(0, index, name, bold)
        for number, row in enumerate(rows, start=1):
            for index, value in enumerate(row.cells()):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    sheet.write_string(number, index, value)
                else:
                    sheet.write_number(number, index, value)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, count, len(COLUMNS) - 1)
        column = COLUMNS.index("decision")
        sheet.data_validation(
            1,
            column,
            max(count, 1),
            column,
            {
                "validate": "list",
                "source": list(DECISIONS),
                "input_title": "decision",
                "input_message": _HELP,
                "error_title": "decision",
                "error_message": f"one of {', '.join(DECISIONS)} ({_HELP})",
            },
        )
    finally:
        book.close()


@dataclass(frozen=True)
class Chosen:
    """The company a person chose: from a candidate column, or typed as an ID."""

    company_id: str
    official_name: str | None
    unified_credit_code: str | None


@dataclass(frozen=True)
class Decision:
    """A valid decision of one row: a company, or None for `none`."""

    row: int
    request_id: int
    company: Chosen | None


@dataclass
class ReviewFile:
    """What a review file holds: its valid decisions, and what was skipped or rejected."""

    path: Path
    read: int = 0  # rows that are not blank
    skipped: int = 0  # rows without a decision
    decisions: list[Decision] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class _Bad(Exception):
    """A row's problem (the reason), raised while validating it."""


def read_review(path: Path) -> ReviewFile:
    """Read a review file (.xlsx, .ods or .csv, as any spreadsheet program saves it); exit 2
    (InputFileError) without request_id or decision.

    A cell a decision reads that is a formula saved without its value (an
    xlsx written by a program, never calculated) rejects its row: it is
    not an empty cell, and its value is unknown. So does a number of more
    than 15 digits there: a spreadsheet keeps 15, so its last digits are
    lost. Numbers count as the text they spell (request_id 2.0 is 2), and
    one apostrophe in front of a request_id, decision or ID (which
    LibreOffice keeps in a text cell) is not part of it.
    """
    table = open_input(path, formulas=True, ods=True)
    missing = [name for name in REQUIRED if table.column(name) is None]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        found = ", ".join(repr(h) for h in table.header if h) or "none"
        plural = "s" if len(missing) > 1 else ""
        raise InputFileError(f"{path}: no column{plural} {names} (columns: {found})")
    index = {name: table.column(name) for name in COLUMNS}
    result = ReviewFile(path)
    first_row: dict[int, int] = {}
    decision_at = index["decision"]
    assert decision_at is not None  # REQUIRED
    # The apostrophes a CSV for people puts in front of formula starts (an
    # xlsx cell holds its text as it is).
    text = (lambda cell: unescape_cell(cell_text(cell))) if table.format == "csv" else cell_text
    # Row numbers as the spreadsheet or file shows them.
    for number, cells in table.numbered_rows():
        if not any(cell_text(cell).strip() for cell in cells) and not (
            decision_at < len(cells) and isinstance(cells[decision_at], FormulaWithoutValue)
        ):
            continue  # blank rows (trailing rows of a sheet, empty CSV lines)

        def get(name: str, cells: list[Any] = cells) -> str:
            i = index[name]
            if i is None or i >= len(cells):
                return ""
            cell = cells[i]
            if isinstance(cell, FormulaWithoutValue):
                raise _Bad(f"{name} is {_NO_VALUE}")
            if isinstance(cell, int | float) and not abs(cell) < EXACT:
                raise _Bad(f"{name} is {_TOO_LONG}")
            value: str = text(cell).strip()
            if name in TYPED and value.startswith("'"):
                value = value[1:].lstrip()
            return value

        result.read += 1
        try:
            if not get("decision"):
                result.skipped += 1
                continue
            decision = _decision(get)
        except _Bad as bad:
            result.rejected.append(Rejected(str(path), number, str(bad), unit="row"))
            continue
        request_id, company = decision
        if request_id in first_row:
            reason = f"request {request_id} is decided again (first on row {first_row[request_id]})"
            result.rejected.append(Rejected(str(path), number, reason, unit="row"))
            continue
        first_row[request_id] = number
        result.decisions.append(Decision(number, request_id, company))
    return result


_NO_VALUE = (
    "a formula without a value (open and save the file in a spreadsheet program "
    "to calculate it, or type the value)"
)
_TOO_LONG = (
    "a number of more than 15 digits, which a spreadsheet does not keep exactly (type it as text)"
)


def _decision(get: Getter) -> tuple[int, Chosen | None]:
    """(request id, chosen company or None) of one row; _Bad with the reason otherwise."""
    raw_id = get("request_id")
    if not raw_id:
        raise _Bad("empty request_id")
    # At most 10 digits: int() of thousands of digits is refused (and slow).
    if not (re.fullmatch(r"[0-9]{1,10}", raw_id) and 0 < int(raw_id) <= MAX_REQUEST_ID):
        raise _Bad(
            f"request_id {_shown(raw_id)}is not a request id "
            f"(expected a whole number from 1 to {MAX_REQUEST_ID})"
        )
    request_id = int(raw_id)
    decision = get("decision").lower()
    if decision not in DECISIONS:
        raise _Bad(f"unknown decision {_shown(decision)}(expected {', '.join(DECISIONS)})")
    if decision == NONE:
        return request_id, None
    if decision == "id":
        return request_id, Chosen(_company_id(get, "company_id", decision), None, None)
    prefix = f"candidate_{decision}_"
    company_id = _company_id(get, f"{prefix}id", decision)
    name = _field(get, f"{prefix}name", MAX_OFFICIAL_NAME)
    code = _field(get, f"{prefix}credit_code", MAX_CREDIT_CODE)
    return request_id, Chosen(company_id, name or None, code or None)


def _company_id(get: Getter, column: str, decision: str) -> str:
    """The company ID of a column, by the one rule (companies/ids.py); _Bad otherwise."""
    value, problem = clean_company_id(get(column))
    if not value:
        raise _Bad(f"decision {decision} but {column} is empty")
    if problem is not None:  # a temporary ID, a space or control inside, too long, ...
        raise _Bad(f"{column}: {problem}")
    return value


def _field(get: Getter, column: str, limit: int) -> str:
    """A column's text within its limit (empty if it is)."""
    value: str = get(column)
    if len(value) > limit:
        raise _Bad(f"{column} longer than {limit} characters ({len(value)})")
    if "\x00" in value:
        raise _Bad(f"{column} contains a NUL character")
    return value


def _shown(text: str) -> str:
    """A typed value for a message: short ASCII is quoted, anything else (perhaps a name) not."""
    return f"{text!r} " if len(text) <= 20 and text.isascii() and text.isprintable() else ""
