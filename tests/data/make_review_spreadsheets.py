"""Make review files with decisions typed as people type them: saved by LibreOffice Calc
(.ods, .xlsx, .csv), and as WPS saves them.

wdh writes the review export (review/sheet.py write_review, as `wdh review
export` does) for eight requests (1 to 8); LibreOffice (`soffice`,
e.g. Debian's libreoffice-calc-nogui, driven through its Python UNO bridge,
/usr/bin/python3 with python3-uno) opens it, and the decisions are typed
into the cells as a person types them (`.uno:EnterString`: LibreOffice
decides each cell's type from the text, as at the keyboard); then it saves
review_typed_libreoffice.ods, review_typed_libreoffice.xlsx and
review_typed_libreoffice.csv (UTF-8). WPS Office cannot be installed here:
what it writes is emulated with XlsxWriter (review_typed_wps.xlsx: text in
shared strings, numbers as numbers, a typed apostrophe kept as the cell's
quotePrefix style, not in its text, as Excel and WPS do). Run from the
repository root:

    .venv/bin/python tests/data/make_review_spreadsheets.py

Rows (request_id 1 to 8; the test creates those requests):
2: decision 1 typed in the text column -> candidate 1 (000123)
3: request_id and decision typed as numbers (2 and 2: the cells' text format
   cleared first) -> candidate 2 (614810477)
4: decision id, company_id typed '608349737 in the text column: LibreOffice
   keeps the apostrophe in the text -> 608349737
5: request_id typed as a number, decision none -> confirmed none
6: decision ID, company_id typed as a number (608349738) -> 608349738
7: decision id, company_id typed as the number 91310000132200821, which a
   spreadsheet keeps to 15 digits -> rejected
8: no decision -> skipped
9: decision 3 -> candidate 3 (608349739)
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"  # the Python of LibreOffice's UNO bridge

# (sheet column letter, typed text, clear the cell's text format first)
TYPED: dict[int, list[tuple[str, str, bool]]] = {
    2: [("S", "1", False)],
    3: [("A", "2", True), ("S", "2", True)],
    4: [("S", "id", False), ("T", "'608349737", False)],
    5: [("A", "4", True), ("S", "none", False)],
    6: [("S", "ID", False), ("T", "608349738", True)],
    7: [("S", "id", False), ("T", "91310000132200821", True)],
    9: [("S", "3", False)],
}


def _export(target: Path) -> None:
    """The review file as `wdh review export` writes it."""
    sys.path.insert(0, str(HERE.parents[1]))
    from wdh_cli.review.repository import ReviewRequest
    from wdh_cli.review.sheet import ExportRow, write_review

    candidates = [
        {"company_id": "000123", "official_name": "青岛海滨物流有限公司", "confidence": 0.72},
        {
            "company_id": "614810477",
            "official_name": "上海浦东发展集团有限公司",
            "confidence": 0.55,
        },
        {
            "company_id": "608349739",
            "official_name": "中国平安人寿保险股份有限公司",
            "confidence": 0.31,
        },
    ]
    rows = [
        ExportRow(
            ReviewRequest(
                number, f"客户{number}有限公司", f"客户{number}", None, 10 - number, "no match"
            ),
            candidates,
        )
        for number in range(1, 9)
    ]
    write_review(target, rows)


def _wps(source: Path, target: Path) -> None:
    """What WPS saves after the same typing, emulated (see the docstring): every cell of the
    export rewritten with XlsxWriter's shared strings, the typed ones as WPS stores them."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    cells = CalamineWorkbook.from_path(str(source)).get_sheet_by_index(0).to_python()
    book = xlsxwriter.Workbook(str(target), {"strings_to_numbers": False})
    sheet = book.add_worksheet("review")
    text = book.add_format({"num_format": "@"})
    quoted = book.add_format({"num_format": "@", "quote_prefix": True})
    for row, values in enumerate(cells):
        for column, value in enumerate(values):
            if isinstance(value, float):
                sheet.write_number(row, column, value)
            elif value != "":
                sheet.write_string(row, column, value, text)
    for row, typed in TYPED.items():
        for letter, value, cleared in typed:
            column = ord(letter) - ord("A")
            if value.startswith("'"):  # kept as the style, not in the text
                sheet.write_string(row - 1, column, value[1:], quoted)
            elif cleared:  # a number in a cell of General format
                sheet.write_number(row - 1, column, float(value))
            else:
                sheet.write_string(row - 1, column, value, text)
    book.close()


def _libreoffice(source: Path, folder: Path) -> None:
    """Run in LibreOffice's Python (see main): type, then save as ods, xlsx and csv."""
    import uno
    from com.sun.star.beans import PropertyValue

    def prop(name: str, value: object) -> PropertyValue:
        found = PropertyValue()
        found.Name, found.Value = name, value
        return found

    pipe = f"wdh-fixtures-{time.monotonic_ns()}"
    office = subprocess.Popen(
        [
            "soffice",
            "--headless",
            "--invisible",
            "--norestore",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            f"--accept=pipe,name={pipe};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    for _ in range(300):
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            break
        except Exception:
            time.sleep(0.2)
    manager = context.ServiceManager
    desktop = manager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
    doc = desktop.loadComponentFromURL(source.as_uri(), "_blank", 0, (prop("Hidden", True),))
    frame = doc.getCurrentController().getFrame()
    dispatch = manager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", context)
    sheet = doc.Sheets.getByIndex(0)
    for row, typed in TYPED.items():
        for column, text, cleared in typed:
            if cleared:
                sheet.getCellRangeByName(f"{column}{row}").NumberFormat = 0  # General
            dispatch.executeDispatch(
                frame, ".uno:GoToCell", "", 0, (prop("ToPoint", f"{column}{row}"),)
            )
            dispatch.executeDispatch(frame, ".uno:EnterString", "", 0, (prop("StringName", text),))
    stem = folder / "review_typed_libreoffice"
    doc.storeToURL(stem.with_suffix(".ods").as_uri(), (prop("FilterName", "calc8"),))
    xlsx = stem.with_suffix(".xlsx").as_uri()
    doc.storeToURL(xlsx, (prop("FilterName", "Calc MS Excel 2007 XML"),))
    csv_options = "44,34,76,1"  # comma, double quote, UTF-8, from the first line
    doc.storeToURL(
        stem.with_suffix(".csv").as_uri(),
        (prop("FilterName", "Text - txt - csv (StarCalc)"), prop("FilterOptions", csv_options)),
    )
    doc.close(True)
    with contextlib.suppress(Exception):  # the bridge goes with the office
        desktop.terminate()
    office.wait(timeout=60)


def main() -> None:
    if sys.argv[1:2] == ["--libreoffice"]:
        _libreoffice(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        export = folder / "review.xlsx"
        _export(export)
        subprocess.run(
            [SYSTEM_PYTHON, __file__, "--libreoffice", str(export), str(folder)], check=True
        )
        for suffix in (".ods", ".xlsx", ".csv"):
            name = f"review_typed_libreoffice{suffix}"
            (HERE / name).write_bytes((folder / name).read_bytes())
        _wps(export, HERE / "review_typed_wps.xlsx")


if __name__ == "__main__":
    main()
