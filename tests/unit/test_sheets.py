"""Reading inputs: the header is the first row that is not blank; rows keep their numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from wdh_cli.errors import InputFileError
from wdh_cli.tabular.sheets import open_input, read_column


def _book(path: Path, cells: dict[tuple[int, int], Any]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    for (row, col), value in cells.items():
        sheet.write(row, col, value)
    book.close()
    return path


@pytest.mark.parametrize(
    ("text", "header_row"),
    [
        ("客户名称,金额\n甲,1\n", 1),
        ("\n\n客户名称,金额\n甲,1\n", 3),
        (",,\n  , \n客户名称,金额\n甲,1\n", 3),  # commas and spaces only: blank rows
        ("\r\n\r\n\r\n客户名称,金额\r\n甲,1\r\n", 4),
    ],
)
def test_csv_header_is_the_first_row_that_is_not_blank(
    tmp_path: Path, text: str, header_row: int
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = open_input(path)
    assert table.header == ["客户名称", "金额"]
    assert table.header_row == header_row
    assert list(table.numbered_rows()) == [(header_row + 1, ["甲", "1"])]


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    # A quoted line break keeps one record on one row; a blank line is a row.
    path.write_text('\n客户名称,备注\n甲,"two\nlines"\n\n乙,x\n', encoding="utf-8")
    rows = list(open_input(path).numbered_rows())
    assert rows == [(3, ["甲", "two\nlines"]), (4, []), (5, ["乙", "x"])]


@pytest.mark.parametrize(
    ("cells", "header_row", "first_column"),
    [
        ({(0, 0): "客户名称", (1, 0): "甲"}, 1, 0),
        ({(2, 0): "客户名称", (3, 0): "甲"}, 3, 0),
        ({(4, 2): "客户名称", (5, 2): "甲"}, 5, 2),  # header on C5
        ({(0, 0): " ", (3, 1): "客户名称", (4, 1): "甲"}, 4, 0),  # a space is blank
    ],
)
def test_xlsx_header_is_the_first_row_that_is_not_blank(
    tmp_path: Path, cells: dict[tuple[int, int], Any], header_row: int, first_column: int
) -> None:
    table = open_input(_book(tmp_path / "in.xlsx", cells))
    assert table.header_row == header_row and table.first_column == first_column
    name_at = table.header.index("客户名称")
    rows = list(table.numbered_rows())
    assert [(number, row[name_at]) for number, row in rows] == [(header_row + 1, "甲")]
    assert table.total == 1


def test_blank_files_and_sheets_are_empty(tmp_path: Path) -> None:
    blank = tmp_path / "blank.csv"
    blank.write_text("\n , \n\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="empty file"):
        open_input(blank)
    with pytest.raises(InputFileError, match="is empty"):
        open_input(_book(tmp_path / "blank.xlsx", {(3, 1): "  "}))


def test_read_column_finds_a_header_below_blank_rows(tmp_path: Path) -> None:
    path = _book(tmp_path / "in.xlsx", {(2, 1): "客户名称", (3, 1): "甲", (4, 1): "乙"})
    assert read_column(path, "客户名称") == ["甲", "乙"]


def test_a_gb18030_byte_order_mark_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "gb.csv"
    path.write_bytes(b"\x84\x31\x95\x33" + "客户名称,规模\n甲公司,1\n".encode("gb18030"))
    table = open_input(path)
    assert (table.encoding, table.header) == ("gb18030", ["客户名称", "规模"])
    assert list(table.rows) == [["甲公司", "1"]]
