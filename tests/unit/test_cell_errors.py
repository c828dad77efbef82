"""Error cells of a workbook (#DIV/0!, #N/A, ...): found in the sheet's XML, since
python-calamine reads them as empty strings."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from wdh_cli.tabular.cell_errors import NO_VALUE, CellError, FormulaWithoutValue, error_cells
from wdh_cli.tabular.sheets import cell_text, open_input

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"


def _workbook(path: Path, sheets: dict[str, str], *, prefix: str = "") -> Path:
    """A minimal workbook whose sheets' <sheetData> content is given as XML.

    `prefix` writes every element with a namespace prefix, as some writers do;
    sheet targets are absolute paths, which the format allows.
    """
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
            f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<{p}workbook {ns} xmlns:r="{RELS}"><{p}sheets>'
            + "".join(
                f'<{p}sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                for i, name in enumerate(sheets)
            )
            + f"</{p}sheets></{p}workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE}">'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{RELS}/worksheet" '
                f'Target="/xl/worksheets/s{i}.xml"/>'
                for i in range(len(sheets))
            )
            + "</Relationships>"
        ),
    }
    for i, data in enumerate(sheets.values()):
        parts[f"xl/worksheets/s{i}.xml"] = (
            f"<{p}worksheet {ns}><{p}sheetData>{data}</{p}sheetData></{p}worksheet>"
        )
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + text)
    return path


def _text(value: str, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    return f'<{p}c t="inlineStr"><{p}is><{p}t>{value}</{p}t></{p}is></{p}c>'


ERRORS = ["#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"]


def test_every_error_kind_of_an_xlsxwriter_workbook_is_found(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    sheet = book.add_worksheet("S")
    sheet.write_row(0, 0, ["客户名称", "值"])
    for row, error in enumerate(ERRORS, start=1):
        sheet.write_string(row, 0, f"公司{row}")
        sheet.write_formula(row, 1, "=1/0", None, error)
    book.close()
    found = error_cells(tmp_path / "in.xlsx", "S")
    assert found == {row: {1: CellError(error)} for row, error in enumerate(ERRORS, start=1)}
    rows = list(open_input(tmp_path / "in.xlsx").numbered_rows())
    assert [r[1] for _, r in rows] == [CellError(error) for error in ERRORS]
    assert all(isinstance(r[1], CellError) and cell_text(r[1]) == "" for _, r in rows)


@pytest.mark.parametrize(
    ("sheets", "prefix", "wanted", "expected"),
    [
        # No r attributes: positions follow from the order; single quotes.
        (
            {
                "A": "<row>" + _text("x") + "</row>",
                "B": "<row>" + _text("客户名称") + _text("v") + "</row>"
                "<row><c/><c t='e'><v>#REF!</v></c></row>",
            },
            "",
            "B",
            {1: {1: "#REF!"}},
        ),
        # Prefixed elements, data starting at B2, an error on C3.
        (
            {
                "S": '<x:row r="2"><x:c r="B2" t="inlineStr"><x:is><x:t>客户名称</x:t></x:is>'
                '</x:c></x:row><x:row r="3"><x:c r="C3" t="e"><x:f>1/0</x:f>'
                "<x:v>#DIV/0!</x:v></x:c></x:row>"
            },
            "x",
            "S",
            {2: {2: "#DIV/0!"}},
        ),
        # An error on another sheet is not this sheet's.
        (
            {
                "A": "<row>" + _text("客户名称") + "</row>",
                "B": '<row><c r="A1" t="e"><v>#N/A</v></c></row>',
            },
            "",
            "A",
            {},
        ),
    ],
)
def test_error_cells_in_other_writers_layouts(
    tmp_path: Path, sheets: dict[str, str], prefix: str, wanted: str, expected: dict[int, Any]
) -> None:
    path = _workbook(tmp_path / "in.xlsx", sheets, prefix=prefix)
    assert error_cells(path, wanted) == {
        row: {column: CellError(text) for column, text in cells.items()}
        for row, cells in expected.items()
    }
    table = open_input(path, sheet=wanted)
    cells = [cell for _, row in table.numbered_rows() for cell in row]
    assert sorted(str(c) for c in cells if isinstance(c, CellError)) == sorted(
        text for row in expected.values() for text in row.values()
    )


def test_a_broken_part_means_no_error_cells_not_a_crash(tmp_path: Path) -> None:
    # An error cell in XML that does not parse (a row never closed).
    path = _workbook(tmp_path / "in.xlsx", {"S": '<row><c t="e"><v>#N/A</v></c>'})
    assert error_cells(path, "S") == {}
    assert error_cells(path, "no such sheet") == {}
    assert error_cells(tmp_path / "missing.xlsx", "S") == {}


def test_an_error_cell_is_not_the_text_it_spells() -> None:
    # Resolve groups rows by their key cells: the error #N/A (no key) must
    # not fall in with a cell holding the text "#N/A" (a key).
    assert CellError("#N/A") != "#N/A"
    assert "#N/A" != CellError("#N/A")  # noqa: SIM300 (both sides of the comparison)
    assert len({CellError("#N/A"), "#N/A"}) == 2
    assert CellError("#N/A") == CellError("#N/A")


def test_formulas_without_a_value_are_found_only_when_asked(tmp_path: Path) -> None:
    """As XlsxWriter (`<v></v>`), openpyxl (`<v />`) or a bare `<f>` leave them; a text
    formula whose value is empty (`t="str"`, as Excel and LibreOffice save `=""`), and
    formulas with values, are not."""
    cells = [
        '<c r="A2"><f>1+1</f><v></v></c>',  # XlsxWriter, value ""
        '<c r="B2"><f>"a"</f><v /></c>',  # openpyxl
        '<c r="C2" t="str"><f>"a"</f></c>',  # no <v> at all
        '<c r="D2" t="str"><f>""</f><v></v></c>',  # the empty text: a value
        '<c r="E2"><f>1+1</f><v>2</v></c>',
        '<c r="F2" t="str"><f>"x"</f><v>x</v></c>',
        '<c r="G2" t="inlineStr"><f>"y"</f><is><t>y</t></is></c>',
        '<c r="H2" t="inlineStr"><f>"y"</f></c>',
        '<c r="I2" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
    ]
    header = "".join(_text(name) for name in "ABCDEFGHI")
    path = _workbook(
        tmp_path / "in.xlsx", {"S": f"<row r='1'>{header}</row><row r='2'>{''.join(cells)}</row>"}
    )
    assert error_cells(path, "S") == {1: {8: CellError("#DIV/0!")}}
    found = error_cells(path, "S", formulas=True)
    assert found == {
        1: {0: NO_VALUE, 1: NO_VALUE, 2: NO_VALUE, 7: NO_VALUE, 8: CellError("#DIV/0!")}
    }
    assert all(type(found[1][c]) is FormulaWithoutValue for c in (0, 1, 2, 7))

    (row,) = [r for _, r in open_input(path, formulas=True).numbered_rows()]
    assert [type(cell).__name__ for cell in row] == [
        "FormulaWithoutValue",
        "FormulaWithoutValue",
        "FormulaWithoutValue",
        "str",
        "float",
        "str",
        "str",
        "FormulaWithoutValue",
        "CellError",
    ]
    assert [cell_text(cell) for cell in row] == ["", "", "", "", "2", "x", "y", "", ""]
    # Without `formulas` (resolve), such a cell is the empty cell calamine reads.
    (plain,) = [r for _, r in open_input(path).numbered_rows()]
    assert [type(cell).__name__ for cell in plain][:4] == ["str", "str", "str", "str"]
