"""SQL on a warehouse table (sql/queries/warehouse.sql): the only writer of such tables.

Identifiers are composed with psycopg's `sql` module, so a name with quotes,
semicolons or Chinese characters is always one quoted identifier. Functions
take the caller's connection and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from wdh_cli.companies.ids import COMPANY_ID_PATTERN, NOT_A_COMPANY_PATTERN
from wdh_cli.db.copy import copy_in, copy_out
from wdh_cli.db.sqlfiles import queries
from wdh_cli.resolution.keys import (
    EXISTING_FIELD,
    MAX_KEY,
    WHITESPACE,
    KeyColumn,
    KeyPlan,
    NativeLevel,
)

Q = queries("warehouse")


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


@dataclass(frozen=True)
class Bound:
    last: str  # the ctid (as text) of a batch's last row
    rows: int | None  # rows up to and including it (None: to the end of the table)


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


def _compose(name: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(Q[name]).format(**parts)


# resolve --table: the engine's statements on a table (sql/queries/resolve_table.sql) ---------


def _level_candidate(level: NativeLevel) -> sql.Identifier:
    """The column of keyed_rows holding a level's candidate."""
    return sql.Identifier(f"c_{level.match_type}")


RQ = queries("resolve_table")
WAITING = "waiting"  # the class of a row left for layers 4 and 5 (no source is spelled so)


@dataclass(frozen=True)
class Taught:
    learned_keys: int
    learned_rows: int
    conflict_keys: int
    conflict_rows: int


@dataclass(frozen=True)
class Stored:
    stored_same_rows: int
    stored_other_rows: int


class ResolveStatements:
    """The statements of one `resolve --table` run, composed for its table and columns.

    `cells` maps each row field (wdh_cli.resolution.keys.KeyPlan.fields) to its
    column, None where the table has none. Functions run in the caller's
    transaction and never commit; the work tables live as long as the session.
    """

    def __init__(self, table: TableRef, cells: dict[str, str | None], plan: KeyPlan) -> None:
        self.table = table
        self.plan = plan
        self._cells = cells
        self._with_hits: list[str] = []  # levels (other than names) that have hits
        self._boundary = "0"  # the run's first transaction (see resolve_table.sql)

    def cell(self, field: str) -> sql.Composable:
        """A row's cell as text (NULL when the table has no such column)."""
        column = self._cells.get(field)
        if column is None:
            return sql.SQL("NULL::text")
        return sql.SQL("t.{}::text").format(sql.Identifier(column))

    def key(self, column: KeyColumn) -> sql.Composable:
        """A trimmed key column of a row: str.strip() of its cell, '' when NULL."""
        return sql.SQL("btrim(coalesce({cell}, ''), {whitespace})").format(
            cell=self.cell(column.field), whitespace=sql.Literal(WHITESPACE)
        )

    def _compose(self, query: str, /, **parts: sql.Composable) -> sql.Composed:
        return sql.SQL(RQ[query]).format(**parts)

    def create(self, conn: psycopg.Connection) -> None:
        """The work tables, and the run's boundary: rows committed later are not the run's."""
        conn.execute(RQ["session_settings"])
        found = conn.execute(RQ["boundary"]).fetchone()
        assert found is not None
        self._boundary = str(found[0])
        conn.execute(RQ["create_work_tables"])

    def _visible(self) -> sql.Composable:
        return sql.SQL("age(t.xmin) >= age({}::xid)").format(sql.Literal(self._boundary))

    def drop(self, conn: psycopg.Connection) -> None:
        conn.execute(RQ["drop_work_tables"])

    def distinct_names(self, conn: psycopg.Connection) -> bytes:
        statement = self._compose(
            "distinct_names",
            name=self.cell(self.plan.name_column.field),
            table=self.table.identifier,
            visible=self._visible(),
        )
        return copy_out(conn, statement)

    def send_names(self, conn: psycopg.Connection, csv: bytes) -> None:
        copy_in(conn, RQ["copy_names"], csv)

    def send_hits(self, conn: psycopg.Connection, csv: bytes) -> None:
        copy_in(conn, RQ["copy_hits"], csv)

    def cache_hits(self, conn: psycopg.Connection) -> None:
        """Layer 2 as the run starts: the names, then the key columns."""
        plan = self.plan
        conn.execute(RQ["analyze_work_tables"])  # the overrides, and the names
        conn.execute(
            self._compose(
                "cache_hits_of_names",
                code=sql.Literal(plan.name_level.code),
                name_type=sql.Literal(plan.name_level.match_type),
                max_key=sql.Literal(MAX_KEY),
            )
        )
        found = conn.execute(
            self._compose(
                "levels_in_cache", types=sql.Literal([level.match_type for level in plan.levels])
            )
        ).fetchall()
        cached = {str(row[0]) for row in found}
        for column in plan.columns:
            levels = [
                level
                for level in plan.levels
                if level.column == column and level.match_type in cached
            ]
            if column.trimmed and levels:
                conn.execute(self.column_hits(column, levels))
        self.refresh(conn)

    def column_hits(self, column: KeyColumn, levels: list[NativeLevel]) -> sql.Composed:
        """The cache's hits of one key column at `levels` (cache_hits_of_column)."""
        return self._compose(
            "cache_hits_of_column",
            key=self.key(column),
            table=self.table.identifier,
            visible=self._visible(),
            types=sql.Literal([level.match_type for level in levels]),
            codes=sql.Literal([level.code for level in levels]),
        )

    def refresh(self, conn: psycopg.Connection) -> None:
        """After hits were added: names take their candidates; statistics; levels with hits."""
        name_type = self.plan.name_level.match_type
        conn.execute(self._compose("name_candidates", name_type=sql.Literal(name_type)))
        self._name_answers(conn)
        conn.execute(RQ["analyze_work_tables"])
        found = conn.execute("SELECT DISTINCT match_type FROM wdh_hits").fetchall()
        present = {str(row[0]) for row in found}
        self._with_hits = [
            level.match_type
            for level in self.plan.levels
            if level is not self.plan.name_level and level.match_type in present
        ]

    def _name_answers(self, conn: psycopg.Connection) -> None:
        """Each name's answer for a row it alone decides (name_answers)."""
        name_type = self.plan.name_level.match_type
        conn.execute(
            self._compose(
                "name_answers",
                yaml_source=sql.Literal(f"yaml:{name_type}"),
                cache_source=sql.Literal(f"db:{name_type}"),
                waiting=sql.Literal(WAITING),
            )
        )

    def keyed(self, where: sql.Composable) -> sql.Composed:
        """The rows of `where`, keyed (keyed_rows)."""
        plan = self.plan
        joins = []
        candidates: list[sql.Composable] = [sql.SQL("n.cand")]
        level_candidates: list[sql.Composable] = []
        for index, level in enumerate(plan.levels):
            if level is plan.name_level:
                continue
            column = _level_candidate(level)
            if level.match_type not in self._with_hits:
                level_candidates.append(sql.SQL("NULL::text AS {}").format(column))
                continue
            alias = sql.Identifier(f"h{index}")
            joins.append(
                self._compose(
                    "level_join",
                    alias=alias,
                    match_type=sql.Literal(level.match_type),
                    key=self.key(level.column),
                )
            )
            candidates.append(sql.SQL("{}.cand").format(alias))
            level_candidates.append(sql.SQL("{}.cand AS {}").format(alias, column))
        keys = [
            sql.SQL("{} AS {}").format(self.key(column), sql.Identifier(column.name))
            for column in plan.columns
            if column.trimmed
        ]
        return self._compose(
            "keyed_rows",
            keys=sql.SQL(", ").join(keys) if keys else sql.SQL("NULL AS k"),
            level_candidates=sql.SQL(", ").join(level_candidates)
            if level_candidates
            else sql.SQL("NULL AS c"),
            company_pattern=sql.Literal(COMPANY_ID_PATTERN),
            not_a_company=sql.Literal(NOT_A_COMPANY_PATTERN),
            name=self.cell(plan.name_column.field),
            table=self.table.identifier,
            level_joins=sql.SQL("\n").join(joins),
            candidates=sql.SQL(", ").join(candidates),
            existing=self.cell(EXISTING_FIELD),
            whitespace=sql.Literal(WHITESPACE),
            where=where,
            visible=self._visible(),
        )

    def decided(self, where: sql.Composable) -> sql.Composed:
        """The staged rows of `where`, decided (decided_rows of staged_rows)."""
        plan = self.plan
        top = max(level.priority for level in plan.levels)
        yaml_sources: list[str | None] = [None] * top
        cache_sources: list[str | None] = [None] * top
        for level in plan.levels:
            yaml_sources[level.priority - 1] = f"yaml:{level.match_type}"
            cache_sources[level.priority - 1] = f"db:{level.match_type}"
        return self._compose(
            "decided_rows",
            yaml_sources=sql.Literal(yaml_sources),
            cache_sources=sql.Literal(cache_sources),
            waiting=sql.Literal(WAITING),
            staged=self._compose("staged_rows", where=where),
        )

    def stage(self, conn: psycopg.Connection) -> None:
        """Stage the rows that are not simple, once the candidates are final (stage_rows)."""
        others = [
            sql.SQL("r.{} IS NOT NULL").format(_level_candidate(level))
            for level in self.plan.levels
            if level is not self.plan.name_level and level.match_type in self._with_hits
        ]
        name = self.cell(self.plan.name_column.field)
        existing = self.cell(EXISTING_FIELD)
        maybe = (
            sql.SQL("true")
            if others
            else sql.SQL("({} IS NULL OR coalesce({}, '') <> '')").format(name, existing)
        )
        conn.execute(
            self._compose(
                "stage_rows",
                keyed=self.keyed(maybe),
                other_candidates=sql.SQL(" OR ").join(others) if others else sql.SQL("false"),
            )
        )

    def teach(self, conn: psycopg.Connection) -> tuple[Taught, Stored]:
        """What the rows teach: the taught keys' figures, and the stored keys' pairs."""
        plan = self.plan
        values = [
            sql.SQL("({}, r.nk, r.nc)").format(sql.Literal(level.match_type))
            if level is plan.name_level
            else sql.SQL("({}, r.{}, r.{})").format(
                sql.Literal(level.match_type),
                sql.Identifier(level.column.name),
                _level_candidate(level),
            )
            for level in plan.backflow_levels
        ]
        statement = self._compose(
            "teach",
            # Only rows with something in their existing-ID cell can teach.
            keyed=self.keyed(sql.SQL("coalesce({}, '') <> ''").format(self.cell(EXISTING_FIELD))),
            taught_keys=sql.SQL(", ").join(values),
            max_key=sql.Literal(MAX_KEY),
        )
        with conn.cursor(row_factory=class_row(Stored)) as cur:
            stored = cur.execute(statement).fetchone()
        with conn.cursor(row_factory=class_row(Taught)) as cur:
            taught = cur.execute(RQ["taught_figures"]).fetchone()
        assert stored is not None and taught is not None  # aggregates always return a row
        return taught, stored

    def learn(self, conn: psycopg.Connection) -> None:
        """The learned keys into wdh_hits and wdh_learned (which must exist)."""
        levels = self.plan.levels
        conn.execute(
            self._compose(
                "learn",
                types=sql.Literal([level.match_type for level in levels]),
                codes=sql.Literal([level.code for level in levels]),
                priorities=sql.Literal([level.priority for level in levels]),
            )
        )
        self.refresh(conn)

    def classify(self, conn: psycopg.Connection) -> bytes:
        """Rows per answer, and per waiting name and spelling (see the classify query), as
        COPY's CSV: class, key, raw, rows, whole (3 for rows per answer, 0 per waiting name).

        Out as bytes for polars: a Python tuple per waiting name held 30 MB of a
        run with 50,000 of them (bench tables, own accounts).
        """
        statement = self._compose(
            "classify",
            waiting=sql.Literal(WAITING),
            name=self.cell(self.plan.name_column.field),
            table=self.table.identifier,
            visible=self._visible(),
            decided=self.decided(sql.SQL("true")),
        )
        return copy_out(conn, statement)

    def set_name_answers(self, conn: psycopg.Connection, csv: bytes) -> None:
        copy_in(conn, RQ["copy_name_answers"], csv)
        conn.execute(RQ["set_name_answers"])
        self._name_answers(conn)

    def write_statements(self, outputs: tuple[str, str]) -> tuple[sql.Composed, sql.Composed]:
        """A batch's two UPDATEs: its simple rows (write_simple_batch), then its staged
        ones (write_batch); both take the batch's ctid span as %(after)s and %(last)s."""
        columns = {
            "table": self.table.identifier,
            "id_column": sql.Identifier(outputs[0]),
            "source_column": sql.Identifier(outputs[1]),
        }
        simple = self._compose(
            "write_simple_batch",
            name=self.cell(self.plan.name_column.field),
            visible=self._visible(),
            **columns,
        )
        span = sql.SQL("r.rid > %(after)s::tid AND r.rid <= %(last)s::tid")
        return simple, self._compose("write_batch", decided=self.decided(span), **columns)

    def write_batch(
        self, conn: psycopg.Connection, outputs: tuple[str, str], span: tuple[str, str]
    ) -> int:
        """One batch's rows (a ctid span) get their answers; returns the rows written."""
        params = {"after": span[0], "last": span[1]}
        return sum(conn.execute(stmt, params).rowcount for stmt in self.write_statements(outputs))
