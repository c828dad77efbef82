"""Make review_libreoffice.xlsx: a review file whose formulas LibreOffice Calc calculated.

XlsxWriter writes the formulas without values; LibreOffice (`soffice`, e.g.
Debian's libreoffice-calc-nogui) opens and saves the file, which stores each
formula's value as Excel and WPS do. Run from the repository root:

    .venv/bin/python tests/data/make_review_libreoffice.py

Rows (request_id 1 to 4; the test creates those requests):
2: decision =LOWER("ID"), company_id ="6148"&"10477" -> applied as 614810477
3: request_id =1+1 (the number 2), decision none -> confirmed none
4: decision ="" (a text formula whose value is empty) -> blank, skipped
5: company_id ="TEMP_"&"000001" -> rejected, a temporary ID
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).parent
COLUMNS = ("request_id", "decision", "company_id")
ROWS = [
    ("1", '=LOWER("ID")', '="6148"&"10477"'),
    ("=1+1", "none", None),
    ("3", '=""', None),
    ("4", "id", '="TEMP_"&"000001"'),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "review_libreoffice.xlsx"
        book = xlsxwriter.Workbook(str(source))
        sheet = book.add_worksheet("review")
        sheet.write_row(0, 0, COLUMNS)
        for number, row in enumerate(ROWS, start=1):
            for column, value in enumerate(row):
                if value is None:
                    continue
                if value.startswith("="):
                    sheet.write_formula(number, column, value, None, "")
                else:
                    sheet.write_string(number, column, value)
        book.close()
        out = Path(folder) / "out"
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "xlsx", "--outdir", str(out), str(source)],
            check=True,
            capture_output=True,
        )
        shutil.copy(out / source.name, HERE / source.name)


if __name__ == "__main__":
    main()
