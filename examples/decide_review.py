"""A scripted reviewer for `make demo`: decide the first row of a review file.

Reads the file `wdh review export` wrote, sets the first request's decision
to `id` with the given company ID, and writes every row to a CSV that
`wdh review apply` reads. A person does the same in Excel or WPS:

    python examples/decide_review.py examples/annuity.review.xlsx \
        examples/annuity.decided.csv --company-id 611208836
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wdh_cli.files import people_csv_writer
from wdh_cli.tabular.sheets import cell_text, open_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("review", type=Path, help="the file wdh review export wrote")
    parser.add_argument("decided", type=Path, help="the CSV to write, for wdh review apply")
    parser.add_argument("--company-id", required=True, help="the company of the first request")
    args = parser.parse_args()

    table = open_input(args.review)
    decision = table.header.index("decision")
    company_id = table.header.index("company_id")
    rows = [[cell_text(cell) for cell in row] for row in table.rows]
    if rows:
        rows[0][decision] = "id"
        rows[0][company_id] = args.company_id
        print(f"decided request {rows[0][0]}: id {args.company_id}; {len(rows) - 1} left blank")
    else:
        print("nothing to decide")
    with args.decided.open("w", encoding="utf-8", newline="") as handle:
        # A CSV for people, as `wdh review export` writes one: apply takes the
        # apostrophes in front of formula starts off again.
        writer = people_csv_writer(handle)
        writer.writerow(table.header)
        writer.writerows(rows)


if __name__ == "__main__":
    main()
