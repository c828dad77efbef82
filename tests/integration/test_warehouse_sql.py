"""The per-batch statements of `resolve --table` on real PostgreSQL: plans, and typed keys."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.resolution.keys import KeyPlan
from wdh_cli.resolution.options import ResolveOptions
from wdh_cli.warehouse import repository as tables
from wdh_cli.warehouse.repository import TableRef
from wdh_cli.warehouse.resolve import resolve_table

TABLE = TableRef("public", "rows")


def _plan(conn: psycopg.Connection, statement: sql.Composed, params: dict[str, object]) -> str:
    explain = sql.SQL("EXPLAIN ") + statement
    return "\n".join(row[0] for row in conn.execute(explain, params).fetchall())


def test_a_batch_reads_only_its_own_pages(conn: psycopg.Connection) -> None:
    """A batch's UPDATEs scan a ctid range of the table, never the whole table (the cost per
    batch would otherwise grow with the table: rows x batches), and only its own staged
    rows."""
    conn.execute(
        'CREATE TABLE rows ("计划代码" text, "客户名称" text, company_id text, '
        "company_id_source text)"
    )
    conn.execute(
        """INSERT INTO rows ("计划代码", "客户名称")
           SELECT 'P' || (n % 50), '客户' || (n % 500) FROM generate_series(1, 20000) AS n"""
    )
    conn.execute("ANALYZE rows")
    cells = {"plan": "计划代码", "name": "客户名称"}
    statements = tables.ResolveStatements(TABLE, cells, KeyPlan())
    statements.create(conn)
    conn.execute(
        'INSERT INTO wdh_names (raw, key) SELECT DISTINCT "客户名称", "客户名称" FROM rows'
    )
    conn.execute("INSERT INTO wdh_hits VALUES ('plan', 'P1', '1000101C-1')")
    statements.refresh(conn)
    statements.stage(conn)
    statements.set_name_answers(conn, b"")
    for update in statements.write_statements(("company_id", "company_id_source")):
        plan = _plan(conn, update, {"after": "(0,0)", "last": "(10,0)"})
        assert "Tid Range Scan on rows" in plan and "Seq Scan on rows" not in plan
        # The staged rows of the range only, by their index; the levels' hits are not
        # read again (a batch hashed every hit of the table).
        assert "Seq Scan on wdh_rows" not in plan and "wdh_hits" not in plan


def test_keys_of_other_types_are_read_as_a_file_shows_them(db_url: str, tmp_path: Path) -> None:
    """A date plan code, a numeric account: their text does not follow the session's DateStyle."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER DATABASE " + conn.info.dbname + " SET datestyle = 'SQL, DMY'")
        conn.execute(
            'CREATE TABLE rows ("计划代码" date, "年金账户号" bigint, "客户名称" text, '
            "company_id text, company_id_source text)"
        )
        conn.execute("INSERT INTO rows VALUES ('2026-11-24', 12004567, '甲公司', NULL, NULL)")
        conn.execute(
            "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
            "priority) VALUES ('2026-11-24', 'C-PLAN', 'plan', 1)"
        )
    settings = load_settings(alias_salt="s", mappings_dir=tmp_path)
    db = Database(load_settings(database_url=db_url), purpose="pytest")
    resolve_table(settings, db, TABLE, ResolveOptions())
    with psycopg.connect(db_url) as conn:
        found = conn.execute("SELECT company_id, company_id_source FROM rows").fetchall()
    assert found == [("C-PLAN", "db:plan")]


def test_a_key_column_s_cache_hits_hash_the_cache_and_scan_the_table_once(
    conn: psycopg.Connection,
) -> None:
    """cache_hits_of_column joins every cell to the cache: the cache's rows of the level are
    hashed and the table is read once. An index probe per row (a nested loop) would cost a
    million lookups on a million-row table; distinct keys first cost three times the join."""
    conn.execute('CREATE TABLE rows ("年金账户号" text, "客户名称" text)')
    conn.execute(
        """INSERT INTO rows SELECT lpad(n::text, 10, '0'), '客户' || (n % 500)
           FROM generate_series(1, 50000) AS n"""
    )
    conn.execute(
        """INSERT INTO enterprise.company_mapping
               (alias_name, canonical_id, match_type, priority, source)
           SELECT lpad(n::text, 10, '0'), 'A' || n, 'account', 2, 'test'
           FROM generate_series(1, 100000, 2) AS n"""
    )
    conn.execute("ANALYZE rows")
    conn.execute("ANALYZE enterprise.company_mapping")
    plan = KeyPlan()
    statements = tables.ResolveStatements(
        TABLE, {"account": "年金账户号", "name": "客户名称"}, plan
    )
    statements.create(conn)
    [level] = [level for level in plan.levels if level.match_type == "account"]
    shown = _plan(conn, statements.column_hits(level.column, [level]), {})
    assert shown.count("Seq Scan on rows") == 1, shown
    assert "Hash Cond: (btrim(" in shown and "Index" not in shown, shown
    # Only the level's cache rows are hashed: the filter is on the cache's scan.
    assert "Filter: (((match_type)::text = ANY" in shown, shown
