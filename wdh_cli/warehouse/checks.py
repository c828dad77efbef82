"""What a table must have before wdh touches it: exit 2 naming what is missing."""

from __future__ import annotations

import psycopg

from wdh_cli.errors import DatabaseError, UsageError
from wdh_cli.mappings import levels
from wdh_cli.providers.registry import ProviderName
from wdh_cli.resolution.options import Columns
from wdh_cli.tempids.generator import TEMP_ID_LENGTH
from wdh_cli.warehouse import repository as tables
from wdh_cli.warehouse.repository import Column, TableRef


def existing_columns(conn: psycopg.Connection, table: TableRef) -> dict[str, Column]:
    found = tables.columns(conn, table)
    if not found:
        kind = tables.relation_kind(conn, table)
        if kind in NOT_A_TABLE:
            raise UsageError(
                f"{table} is {NOT_A_TABLE[kind]}, not a table: wdh updates a table's rows "
                "(give the table it reads from)"
            )
        raise UsageError(f"no table {table} (schema {table.schema!r}, table {table.name!r})")
    return {column.name: column for column in found}


NOT_A_TABLE = {
    "v": "a view",
    "m": "a materialized view",
    "f": "a foreign table",
    "S": "a sequence",
    "i": "an index",
    "I": "an index",
    "c": "a composite type",
}


def read_columns(
    table: TableRef, have: dict[str, Column], names: Columns
) -> list[tuple[str, str | None]]:
    """(RowKeys field, the table's column or None) for each key; the name column must exist."""
    read = names.read()
    if read["name"] not in have:
        raise UsageError(
            f"{table}: no column {read['name']!r} (the customer name; --col-name renames it)"
        )
    return [(f, read[f] if read[f] in have else None) for f in read]


# What the source column must hold: the longest source a row can get.
LONGEST_SOURCE = max(
    len(source)
    for source in (
        *(
            f"{layer}:{match_type}"
            for layer in ("yaml", "db")
            for match_type in levels.LEVELS.match_types
        ),
        *(provider.value for provider in ProviderName),
        "existing",
        "temp",
        "unresolved",
    )
)


def output_columns(
    conn: psycopg.Connection,
    table: TableRef,
    have: dict[str, Column],
    id_column: str,
    source_column: str,
    *,
    add: bool,
) -> None:
    """Both output columns exist as text (added with `add`); exit 2 naming any that does not."""
    missing = [name for name in (id_column, source_column) if name not in have]
    if missing and not add:
        names = ", ".join(repr(name) for name in missing)
        raise UsageError(f"{table}: no output column {names} (--add-columns adds them as text)")
    for name, needed in ((id_column, TEMP_ID_LENGTH), (source_column, LONGEST_SOURCE)):
        column = have.get(name)
        if column is None:
            continue
        if not column.is_text:
            raise UsageError(
                f"{table}: output column {name!r} is {column.type}; it must be text or varchar"
            )
        if column.max_length is not None and column.max_length < needed:
            raise UsageError(
                f"{table}: output column {name!r} is {column.type}, too short for what resolve "
                f"writes there (up to {needed} characters); widen it or use text"
            )
        if not column.updatable:
            raise DatabaseError(
                f"{table}: the connected role may not UPDATE column {name!r} "
                "(the table's owner grants it: GRANT UPDATE ON the table TO the role)"
            )
    if missing:
        with conn.transaction():
            tables.add_output_columns(conn, table, id_column, source_column)
