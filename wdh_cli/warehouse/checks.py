"""What a table must have before wdh touches it: exit 2 naming what is missing."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from wdh_cli.companies.ids import MAX_COMPANY_ID
from wdh_cli.errors import DatabaseError, UsageError
from wdh_cli.mappings import levels
from wdh_cli.providers.names import ProviderName
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
    """(row field, the table's column or None) for each field resolve reads.

    The name column must exist.
    """
    read = names.read()
    if read["name"] not in have:
        raise UsageError(
            f"{table}: no column {read['name']!r} (the customer name; --col-name renames it)"
        )
    return [(f, read[f] if read[f] in have else None) for f in read]


# What a column wdh writes must hold. An ID column gets company IDs (the rule
# of companies/ids.py admits up to 100 characters, what company_mapping and
# company_master hold) and temporary IDs; a shorter column would fail in the
# middle of a run, after batches were committed and names queued. A source
# column gets the longest source a row can get; rewrite writes a request's
# resolved_source, a provider's name or `review` (no longer than these).
ID_LENGTH = max(MAX_COMPANY_ID, TEMP_ID_LENGTH)
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


@dataclass(frozen=True)
class Holds:
    """What wdh writes into a column, for the checks and their messages."""

    what: str
    length: int


IDS = Holds("company IDs", ID_LENGTH)
SOURCES = Holds("sources", LONGEST_SOURCE)


def writable(
    table: TableRef, column: Column, label: str, holds: Holds, *, rename: str = ""
) -> None:
    """`column` can take what wdh writes there; else exit 2 naming it (1 for a privilege).

    `label` names the column in messages ("output column 'company_id'"),
    `rename` says how to name another one.
    """
    where = f"{table}: {label}"
    for kind, is_kind in (("a generated", column.generated), ("an identity", column.identity)):
        if is_kind:
            raise UsageError(f"{where} is {kind} column: wdh cannot write it{rename}")
    if not column.is_text:
        raise UsageError(f"{where} is {column.type}; it must be text or varchar")
    if column.max_length is not None and column.max_length < holds.length:
        raise UsageError(
            f"{where} is {column.type}, too short for what wdh writes there "
            f"({holds.what} of up to {holds.length} characters); widen it or use text"
        )
    if not column.updatable:
        raise DatabaseError(
            f"{table}: the connected role may not UPDATE column {column.name!r} "
            "(the table's owner grants it: GRANT UPDATE ON the table TO the role)"
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
    """Both output columns can be written (added as text with `add`); else exit 2 naming one."""
    missing = [name for name in (id_column, source_column) if name not in have]
    if missing and not add:
        names = ", ".join(repr(name) for name in missing)
        raise UsageError(f"{table}: no output column {names} (--add-columns adds them as text)")
    rename = " (--col-output names other output columns, which --add-columns adds)"
    for name, holds in ((id_column, IDS), (source_column, SOURCES)):
        column = have.get(name)
        if column is not None:
            writable(table, column, f"output column {name!r}", holds, rename=rename)
    if missing:
        with conn.transaction():
            tables.add_output_columns(conn, table, id_column, source_column)
