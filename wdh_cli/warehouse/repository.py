"""SQL on a warehouse table (sql/queries/warehouse.sql): the only writer of such tables.

Identifiers are composed with psycopg's `sql` module, so a name with quotes,
semicolons or Chinese characters is always one quoted identifier. Functions
take the caller's connection and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

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
    type: str  # as PostgreSQL writes it: character varying(64)
    type_name: str  # pg_type.typname: varchar
    max_length: int | None  # characters a varchar(n) / char(n) holds; None: unlimited
    generated: bool  # GENERATED ALWAYS AS (...): no UPDATE may set it
    identity: bool  # GENERATED ... AS IDENTITY
    updatable: bool  # the connected role may UPDATE it

    @property
    def is_text(self) -> bool:
        """text, varchar or char: what an ID or a source is written into."""
        return self.type_name in ("text", "varchar", "bpchar")


DistinctKeys = tuple[list[str], int]  # a batch's key tuple (as text) and its rows


@dataclass(frozen=True)
class Bound:
    last: str  # the ctid (as text) of a batch's last row
    rows: int | None  # rows up to and including it (None: to the end of the table)


@dataclass(frozen=True)
class Xid:
    xid: str | None


@dataclass(frozen=True)
class Pages:
    pages: int
    rows_estimate: int
    pages_estimate: int


@dataclass(frozen=True)
class Count:
    rows: int


def set_key_text_style(conn: psycopg.Connection) -> None:
    conn.execute(Q["key_text_style"])


def set_lock_timeout(conn: psycopg.Connection, seconds: int) -> None:
    conn.execute(Q["lock_timeout"], {"ms": f"{seconds * 1000}"})


def columns(conn: psycopg.Connection, table: TableRef) -> list[Column]:
    """The table's columns in order; empty when there is no such table."""
    with conn.cursor(row_factory=class_row(Column)) as cur:
        return cur.execute(
            Q["table_columns"], {"schema": table.schema, "table": table.name}
        ).fetchall()


@dataclass(frozen=True)
class Kind:
    kind: str  # pg_class.relkind


def relation_kind(conn: psycopg.Connection, table: TableRef) -> str | None:
    """pg_class.relkind of the name ('v' view, 'm' materialized view, ...); None: nothing."""
    with conn.cursor(row_factory=class_row(Kind)) as cur:
        found = cur.execute(
            Q["relation_kind"], {"schema": table.schema, "table": table.name}
        ).fetchone()
    return found.kind if found is not None else None


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


LAST_CTID = "(4294967295,65535)"  # after every row: the end of the last batch


def batch_bounds(conn: psycopg.Connection, table: TableRef, batch: int) -> list[Bound]:
    """Where each batch of `batch` rows ends, in the table's physical order.

    The last bound is the end of the table (its rows are counted as they come).
    """
    with conn.transaction(), conn.cursor(row_factory=class_row(Bound)) as cur:
        cur.execute(Q["scan_from_the_start"])
        bounds = cur.execute(_compose("batch_bounds", table=table.identifier), {"batch": batch})
        found = bounds.fetchall()
        if not _ascending([bound.last for bound in found]):
            statement = _compose("batch_bounds_sorted", table=table.identifier)
            found = cur.execute(statement, {"batch": batch}).fetchall()
    return [*found, Bound(LAST_CTID, None)]


def _ascending(ctids: list[str]) -> bool:
    pairs = [tuple(int(part) for part in ctid.strip("()").split(",")) for ctid in ctids]
    return all(a < b for a, b in pairwise(pairs))


def create_answers(conn: psycopg.Connection, width: int) -> None:
    """The work tables of a resolve: the answer of each key tuple met so far."""
    conn.execute(Q["drop_work_tables"])
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(_key(i)) for i in range(width))
    conn.execute(_compose("create_answers", columns=columns, digests=_digests(width)))


def batch_keys(
    conn: psycopg.Connection,
    table: TableRef,
    key_columns: Sequence[str],
    span: tuple[str, str],
    written: Sequence[str],
) -> list[DistinctKeys]:
    """The distinct key tuples of the rows in a ctid span, with their rows, in first-row order.

    Tens of thousands of rows a batch: they come back as plain (keys, rows)
    pairs, in binary, which psycopg turns into Python objects fastest (class_row
    added 40% to this step, measured with bench/bench_tables.py).
    """
    statement = _compose("batch_keys", keys=_cells(key_columns), table=table.identifier)
    params = {"after": span[0], "last": span[1], "written": list(written)}
    with conn.cursor(binary=True) as cur:
        return cur.execute(statement, params).fetchall()


def write_answers(
    conn: psycopg.Connection,
    table: TableRef,
    outputs: tuple[str, str],
    key_columns: Sequence[str],
    span: tuple[str, str],
    written: Sequence[str],
    fresh: Iterable[tuple[str | None, ...]],
) -> str | None:
    """The span's rows get their tuple's answer; returns this transaction's xid (None: no write).

    `fresh`: answers new since the last batch (cells..., company_id, source).
    """
    conn.execute("TRUNCATE wdh_fresh")
    copied = 0
    with conn.cursor().copy("COPY wdh_fresh FROM STDIN") as copy:
        for row in fresh:
            copy.write_row(row)
            copied += 1
    width = len(key_columns)
    excluded = sql.SQL(", ").join(sql.SQL("excluded.{}").format(_key(i)) for i in range(width))
    statement = _compose(
        "merge_answers", digests=_digests(width), keys=_keys(width), excluded=excluded
    )
    conn.execute(statement)
    if copied:
        conn.execute(Q["analyze_answers"])
    join = sql.SQL(" AND ").join(
        sql.SQL("a.{} = coalesce(t.{}::text, '')").format(_key(i), sql.Identifier(name))
        for i, name in enumerate(key_columns)
    )
    statement = _compose(
        "write_answers",
        table=table.identifier,
        id_column=sql.Identifier(outputs[0]),
        source_column=sql.Identifier(outputs[1]),
        join=join,
    )
    conn.execute(statement, {"after": span[0], "last": span[1], "written": list(written)})
    with conn.cursor(row_factory=class_row(Xid)) as cur:
        found = cur.execute(Q["current_xid"], {}).fetchone()
    return found.xid if found is not None else None


@dataclass(frozen=True)
class TableFile:
    file: str | None


def table_file(conn: psycopg.Connection, table: TableRef) -> str | None:
    """Which file holds the table's rows now (it changes when the table is rewritten)."""
    regclass = table.identifier.as_string(conn)
    with conn.cursor(row_factory=class_row(TableFile)) as cur:
        found = cur.execute(Q["table_file"], {"regclass": regclass}).fetchone()
    return found.file if found is not None else None


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


def _keys(width: int) -> sql.Composed:
    return sql.SQL(", ").join(_key(i) for i in range(width))


def _digests(width: int) -> sql.Composed:
    """The key cells as index expressions: md5(k0), md5(k1), ... (see create_answers)."""
    return sql.SQL(", ").join(sql.SQL("(md5({}))").format(_key(i)) for i in range(width))


def _cells(key_columns: Sequence[str]) -> sql.Composed:
    """Each key column as text, NULL as '' (a file's empty cell)."""
    return sql.SQL(", ").join(
        sql.SQL("coalesce(t.{}::text, '')").format(sql.Identifier(name)) for name in key_columns
    )


def _key(index: int) -> sql.Identifier:
    return sql.Identifier(f"{KEY_PREFIX}{index}")


def _compose(name: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(Q[name]).format(**parts)
