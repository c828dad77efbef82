"""`resolve --table` on real PostgreSQL: the same answers as a file, rows updated in place."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.conftest import Server, _fresh_database
from tests.integration.test_resolve_golden import (
    HEADER,
    _directory,
    _overrides,
    _rows,
    _seed,
    _state,
)
from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.errors import UsageError
from wdh_cli.interrupts import StopFlag
from wdh_cli.reports import to_json
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.tabular.service import resolve_file
from wdh_cli.warehouse.repository import TableRef
from wdh_cli.warehouse.resolve import resolve_table

TABLE = TableRef("public", '年金;"明细')  # quotes, a semicolon and Chinese: one identifier
OPTIONS = ResolveOptions(budget=15, provider="directory")


@pytest.fixture
def other_db_url(pg_server: Server, migrated_template: str) -> Iterator[str]:
    """A second fresh database, for the file run beside the table run."""
    yield from _fresh_database(pg_server, migrated_template)


def _table_rows() -> list[list[str]]:
    """The golden rows as a table holds them: no blank rows, every row as wide as the header."""
    width = len(HEADER)
    return [(row + [""] * width)[:width] for row in _rows() if any(row)]


def _create_table(conn: psycopg.Connection, rows: list[list[str]]) -> None:
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(h)) for h in HEADER)
    conn.execute(sql.SQL("CREATE TABLE {} (row_no integer, {})").format(TABLE.identifier, columns))
    names = sql.SQL(", ").join(sql.Identifier(h) for h in ["row_no", *HEADER])
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(TABLE.identifier, names)
    ) as copy:
        for number, row in enumerate(rows):
            # NULL for an empty cell: the table's way of saying "no value".
            copy.write_row([number, *[cell or None for cell in row]])


def _settings(tmp_path: Path, name: str) -> Any:
    return load_settings(
        alias_salt="golden-salt",
        mappings_dir=_overrides(tmp_path / f"overrides-{name}"),
        directory_path=_directory(tmp_path / "directory.csv"),
    )


def _table_answers(conn: psycopg.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        sql.SQL(
            "SELECT coalesce(company_id, ''), company_id_source FROM {} ORDER BY row_no"
        ).format(TABLE.identifier)
    ).fetchall()
    return [(a, b) for a, b in rows]


def _figures(stats: Any) -> dict[str, Any]:
    figures: dict[str, Any] = to_json(stats)
    for key in ("output", "table", "batches"):
        figures.pop(key, None)
    return figures


@pytest.mark.parametrize("batch", [16, 1000])
def test_a_table_gets_the_answers_of_the_same_rows_as_a_file(
    db_url: str, other_db_url: str, tmp_path: Path, batch: int
) -> None:
    rows = _table_rows()
    # The file run, in its own database.
    with psycopg.connect(other_db_url, autocommit=True) as conn:
        _seed(conn)
    source = tmp_path / "rows.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    file_db = Database(load_settings(database_url=other_db_url), purpose="pytest")
    file_options = ResolveOptions(budget=15, provider="directory")
    file_stats = resolve_file(_settings(tmp_path, "file"), file_db, source, file_options)
    with (tmp_path / "rows.resolved.csv").open(encoding="utf-8", newline="") as handle:
        file_answers = [(r[-2], r[-1]) for r in list(csv.reader(handle))[1:]]

    # The table run, the same rows in another database seeded alike.
    with psycopg.connect(db_url, autocommit=True) as conn:
        _seed(conn)
        _create_table(conn, rows)
    table_db = Database(load_settings(database_url=db_url), purpose="pytest")
    table_stats = resolve_table(
        _settings(tmp_path, "table"), table_db, TABLE, OPTIONS, batch=batch, add_columns=True
    )
    with psycopg.connect(db_url) as conn:
        assert _table_answers(conn) == file_answers
        table_state = _state(conn)
    with psycopg.connect(other_db_url) as conn:
        assert table_state == _state(conn)
    assert _figures(table_stats) == _figures(file_stats)
    assert table_stats.batches == -(-len(rows) // batch)
    # Every layer is in the comparison.
    sources = {source for _, source in file_answers}
    assert {"yaml:plan", "yaml:name", "db:name", "db:plan", "db:account", "existing"} <= sources
    assert {"directory", "temp", "unresolved"} <= sources


def test_a_row_is_written_only_when_its_answer_changes(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _seed(conn)
    _create_table(conn, _table_rows())
    settings = _settings(tmp_path, "t")
    versions = sql.SQL(
        "SELECT row_no, xmin::text, company_id, company_id_source FROM {} ORDER BY row_no"
    ).format(TABLE.identifier)
    resolve_table(settings, db, TABLE, OPTIONS, batch=50, add_columns=True)
    runs = [conn.execute(versions).fetchall()]
    # Each later run finds in the cache what the earlier ones learned (backflow,
    # the provider's answers with a fresh budget): the rows whose answer
    # changes are written, and only those, until nothing is left to learn.
    for _ in range(4):
        resolve_table(settings, db, TABLE, OPTIONS, batch=50)
        runs.append(conn.execute(versions).fetchall())
    for before, after in pairwise(runs):
        changed = [a[0] for a, b in zip(before, after, strict=True) if a[2:] != b[2:]]
        written = [a[0] for a, b in zip(before, after, strict=True) if a[1] != b[1]]
        assert written == changed
    assert runs[1] != runs[0] and runs[-1] == runs[-2]


def test_a_stop_between_batches_and_a_rerun_finish_the_table(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _seed(conn)
    rows = _table_rows()
    _create_table(conn, rows)
    settings = _settings(tmp_path, "t")
    stop = StopFlag()

    def after_first_batch(done: int, total: int | None) -> None:
        stop.request("SIGTERM")

    warnings: list[str] = []
    cut = resolve_table(
        settings,
        db,
        TABLE,
        OPTIONS,
        batch=50,
        add_columns=True,
        stop=stop,
        progress=after_first_batch,
        warn=warnings.append,
    )
    # The whole table was worked out before the first batch was written:
    # the figures are the table's, whatever part of it was written.
    assert cut.batches == 1 and cut.total_rows == len(rows)
    assert any("stopped by SIGTERM after 1 batch" in w for w in warnings)
    written = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE company_id_source IS NOT NULL").format(
            TABLE.identifier
        )
    ).fetchone()
    assert written == (50,)
    resolve_table(settings, db, TABLE, OPTIONS, batch=50)
    left = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE company_id_source IS NULL").format(TABLE.identifier)
    ).fetchone()
    assert left == (0,)


def test_plan_only_writes_nothing_and_needs_no_output_columns(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _seed(conn)
    _create_table(conn, _table_rows())
    before = _state(conn)
    options = ResolveOptions(plan_only=True)
    stats = resolve_table(_settings(tmp_path, "t"), db, TABLE, options, batch=40)
    assert stats.total_rows == len(_table_rows()) and stats.async_queued > 0
    assert _state(conn) == before
    columns = conn.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = %s AND column_name = 'company_id'",
        [TABLE.name],
    ).fetchone()
    assert columns == (0,)


@pytest.mark.parametrize(
    ("setup", "table", "message"),
    [
        ("", TableRef("public", "无此表"), "no table public.无此表"),
        ('CREATE TABLE "t1" ("x" text)', TableRef("public", "t1"), "no column '客户名称'"),
        (
            'CREATE TABLE "t2" ("客户名称" text)',
            TableRef("public", "t2"),
            "no output column 'company_id', 'company_id_source' (--add-columns",
        ),
        (
            'CREATE TABLE "t3" ("客户名称" text, company_id bigint, company_id_source text)',
            TableRef("public", "t3"),
            "output column 'company_id' is bigint; it must be text or varchar",
        ),
    ],
)
def test_what_a_table_lacks_is_named(
    db: Database,
    conn: psycopg.Connection,
    tmp_path: Path,
    setup: str,
    table: TableRef,
    message: str,
) -> None:
    if setup:
        conn.execute(setup)
    with pytest.raises(UsageError) as raised:
        resolve_table(_settings(tmp_path, "t"), db, table, OPTIONS)
    assert message in raised.value.message


def test_only_the_output_columns_are_written(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _seed(conn)
    rows = _table_rows()
    _create_table(conn, rows)
    inputs = sql.SQL("SELECT {} FROM {} ORDER BY row_no").format(
        sql.SQL(", ").join(sql.Identifier(h) for h in ["row_no", *HEADER]), TABLE.identifier
    )
    before = conn.execute(inputs).fetchall()
    resolve_table(_settings(tmp_path, "t"), db, TABLE, OPTIONS, batch=64, add_columns=True)
    assert conn.execute(inputs).fetchall() == before


def test_a_table_rewritten_during_the_run_is_warned_about_and_a_rerun_completes_it(
    db: Database, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _seed(conn)
    _create_table(conn, _table_rows())
    conn.execute(sql.SQL("DELETE FROM {} WHERE row_no % 3 = 0").format(TABLE.identifier))
    settings = _settings(tmp_path, "t")

    def vacuum_full_once(done: int, total: int | None) -> None:
        if done == 50:  # after the first batch: the rows move to new places
            with psycopg.connect(db_url, autocommit=True) as other:
                other.execute(sql.SQL("VACUUM FULL {}").format(TABLE.identifier))

    warnings: list[str] = []
    resolve_table(
        settings,
        db,
        TABLE,
        OPTIONS,
        batch=50,
        add_columns=True,
        progress=vacuum_full_once,
        warn=warnings.append,
    )
    assert any("was rewritten during the run" in w for w in warnings)
    resolve_table(settings, db, TABLE, OPTIONS, batch=50)
    left = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE company_id_source IS NULL").format(TABLE.identifier)
    ).fetchone()
    assert left == (0,)
