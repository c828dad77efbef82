"""SQL on a warehouse table (sql/queries/warehouse.sql): the only writer of such tables.

Identifiers are composed with psycopg's `sql` module, so a name with quotes,
semicolons or Chinese characters is always one quoted identifier. Functions
take the caller's connection and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from wdh_cli.db.sqlfiles import queries

Q = queries("warehouse")
KEY_PREFIX = "k"  # the work tables' key columns: k0, k1, ...


@dataclass(frozen=True)
class TableRef:
    """A table by schema and name (both as written: no case folding, no quotes)."""

    schema: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """SCHEMA.TABLE (split at the first dot); a bare name is in `public`."""
        schema, dot, name = text.partition(".")
        return cls(schema, name) if dot else cls("public", schema)

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    category: str  # pg_type.typcategory: 'S' for the string types

    @property
    def is_text(self) -> bool:
        return self.category == "S"


@dataclass(frozen=True)
class DistinctKeys:
    keys: list[str]
    rows: int


@dataclass(frozen=True)
class Span:
    first: str | None  # ctid as text, None for an empty batch
    last: str | None


@dataclass(frozen=True)
class Pages:
    pages: int
    rows_estimate: int
    pages_estimate: int


@dataclass(frozen=True)
class Count:
    rows: int


def columns(conn: psycopg.Connection, table: TableRef) -> list[Column]:
    """The table's columns in order; empty when there is no such table."""
    with conn.cursor(row_factory=class_row(Column)) as cur:
        return cur.execute(
            Q["table_columns"], {"schema": table.schema, "table": table.name}
        ).fetchall()


def add_output_columns(
    conn: psycopg.Connection, table: TableRef, id_column: str, source: str
) -> None:
    conn.execute(
        _compose(
            "add_output_columns",
            table=table.identifier,
            id_column=sql.Identifier(id_column),
            source_column=sql.Identifier(source),
        )
    )


def number_rows(conn: psycopg.Connection, table: TableRef, key_columns: Sequence[str]) -> int:
    """The work table of a resolve: every row's key cells as text, numbered; returns the rows."""
    keys = sql.SQL(", ").join(
        sql.SQL("coalesce({}::text, '') AS {}").format(sql.Identifier(name), _key(index))
        for index, name in enumerate(key_columns)
    )
    conn.execute(Q["drop_work_tables"])
    rows = conn.execute(_compose("number_rows", keys=keys, table=table.identifier)).rowcount
    conn.execute(Q["index_rows"])
    conn.execute("ANALYZE wdh_rows")
    width = len(key_columns)
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(_key(i)) for i in range(width))
    conn.execute(_compose("create_answers", columns=columns))
    return rows


def batch_keys(conn: psycopg.Connection, width: int, after: int, last: int) -> list[DistinctKeys]:
    """The distinct key tuples of rows after..last, with their rows, in first-row order."""
    keys = sql.SQL(", ").join(_key(i) for i in range(width))
    with conn.cursor(row_factory=class_row(DistinctKeys)) as cur:
        return cur.execute(
            _compose("batch_keys", keys=keys), {"after": after, "last": last}
        ).fetchall()


def write_answers(
    conn: psycopg.Connection,
    table: TableRef,
    id_column: str,
    source_column: str,
    width: int,
    after: int,
    last: int,
    answers: Iterable[tuple[str | None, ...]],
) -> int:
    """Rows after..last get their tuple's answer (cells..., company_id, source); rows written."""
    with conn.cursor(row_factory=class_row(Span)) as cur:
        span = cur.execute(Q["batch_span"], {"after": after, "last": last}).fetchone()
    if span is None or span.first is None:
        return 0
    conn.execute("TRUNCATE wdh_answers")
    with conn.cursor().copy("COPY wdh_answers FROM STDIN") as copy:
        for row in answers:
            copy.write_row(row)
    conn.execute("ANALYZE wdh_answers")
    join = sql.SQL(" AND ").join(sql.SQL("a.{k} = r.{k}").format(k=_key(i)) for i in range(width))
    statement = _compose(
        "write_answers",
        table=table.identifier,
        id_column=sql.Identifier(id_column),
        source_column=sql.Identifier(source_column),
        join=join,
    )
    params = {"after": after, "last": last, "first_rid": span.first, "last_rid": span.last}
    return conn.execute(statement, params).rowcount


def drop_work_tables(conn: psycopg.Connection) -> None:
    conn.execute(Q["drop_work_tables"])


def pages(conn: psycopg.Connection, table: TableRef) -> Pages:
    regclass = table.identifier.as_string(conn)
    with conn.cursor(row_factory=class_row(Pages)) as cur:
        found = cur.execute(Q["table_pages"], {"regclass": regclass}).fetchone()
    assert found is not None  # the table was checked to exist
    return found


def rewrite_map(conn: psycopg.Connection) -> None:
    """The work table of a rewrite: resolved temporary ID -> company, source."""
    conn.execute(Q["drop_work_tables"])
    conn.execute(Q["rewrite_map"])
    conn.execute(Q["index_rewrite_map"])
    conn.execute("ANALYZE wdh_rewrite")


def rewrite_pages(
    conn: psycopg.Connection,
    table: TableRef,
    id_column: str,
    source_column: str | None,
    first_page: int,
    after_page: int,
) -> int:
    """Rows in pages first..after-1 holding a resolved temporary ID get the company."""
    assignments = [sql.SQL("{} = m.company_id").format(sql.Identifier(id_column))]
    if source_column is not None:
        assignments.append(sql.SQL("{} = m.source").format(sql.Identifier(source_column)))
    statement = _compose(
        "rewrite_pages",
        table=table.identifier,
        assignments=sql.SQL(", ").join(assignments),
        id_column=sql.Identifier(id_column),
    )
    params = {"first": f"({first_page},0)", "after": f"({after_page},0)"}
    return conn.execute(statement, params).rowcount


def count_rewritable(conn: psycopg.Connection, table: TableRef, id_column: str) -> int:
    statement = _compose(
        "count_rewritable", table=table.identifier, id_column=sql.Identifier(id_column)
    )
    return _count(conn, statement, {})


def count_temporary(conn: psycopg.Connection, table: TableRef, id_column: str, pattern: str) -> int:
    statement = _compose(
        "count_temporary", table=table.identifier, id_column=sql.Identifier(id_column)
    )
    return _count(conn, statement, {"pattern": pattern})


def _count(conn: psycopg.Connection, statement: sql.Composed, params: dict[str, object]) -> int:
    with conn.cursor(row_factory=class_row(Count)) as cur:
        found = cur.execute(statement, params).fetchone()
    return found.rows if found is not None else 0


def _key(index: int) -> sql.Identifier:
    return sql.Identifier(f"{KEY_PREFIX}{index}")


def _compose(name: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(Q[name]).format(**parts)
