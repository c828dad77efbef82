"""Load a spreadsheet into a warehouse table, for `make demo`'s in-place part.

Creates (or recreates) SCHEMA.TABLE with one text column per header of the
sheet and copies every data row into it, in order, in the database wdh is
configured for (the embedded server by default):

    python examples/load_table.py examples/annuity.xlsx demo.annuity
"""

from __future__ import annotations

import argparse
from pathlib import Path

from psycopg import sql

from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.tabular.sheets import cell_text, open_input
from wdh_cli.warehouse.repository import TableRef


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an .xlsx or .csv file")
    parser.add_argument("table", help="SCHEMA.TABLE to (re)create")
    args = parser.parse_args()

    sheet = open_input(args.source)
    table = TableRef.parse(args.table)
    columns = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(name)) for name in sheet.header
    )
    loaded = 0
    with Database(load_settings(), purpose="demo load").connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table.identifier))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table.identifier, columns))
        width = len(sheet.header)
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table.identifier)) as copy:
            for row in sheet.rows:
                cells = [cell_text(cell) or None for cell in row[:width]]
                if any(cells):
                    copy.write_row(cells + [None] * (width - len(cells)))
                    loaded += 1
        conn.commit()
    print(f"loaded {loaded} rows into {table}")


if __name__ == "__main__":
    main()
