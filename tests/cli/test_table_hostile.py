"""Hostile tables for `wdh resolve --table` and `wdh rewrite`: one line, the right exit, no harm."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner, Result

from wdh_cli.cli.app import app


def _wdh(cli: CliRunner, db_url: str, tmp_path: Path, *args: str) -> Result:
    env = {"WDH_ALIAS_SALT": "pepper", "WDH_MAPPINGS_DIR": str(tmp_path)}
    return cli.invoke(app, ["--db", db_url, *args], env=env)


def _one_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_key_cell_of_a_megabyte_is_resolved_like_any_other(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    # A 1 MB name that does not compress: too big for a btree index entry.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE "明细" ("客户名称" text, company_id text, company_id_source text)'
        )
        conn.execute("""INSERT INTO "明细" ("客户名称") VALUES ('甲公司')""")
        conn.execute("SELECT setseed(0.5)")
        conn.execute(
            """INSERT INTO "明细" ("客户名称")
               SELECT string_agg(chr(19968 + (random() * 20000)::int), '')
               FROM generate_series(1, 1000000)"""
        )
        conn.execute("""INSERT INTO "明细" ("客户名称") VALUES ('乙公司')""")
    result = _wdh(cli, db_url, tmp_path, "resolve", "--table", "明细", "--batch", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["temp_ids_generated"] == 3
    with psycopg.connect(db_url) as conn:
        rows = conn.execute('SELECT company_id, company_id_source FROM "明细"').fetchall()
    assert len(rows) == 3 and all(c and c.startswith("IN") and s == "temp" for c, s in rows)


def _locked_table(db_url: str) -> psycopg.Connection:
    """A table with two rows, and a session holding it locked (its open transaction)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE "明细" ("客户名称" text, company_id text, company_id_source text)'
        )
        conn.execute("""INSERT INTO "明细" ("客户名称") VALUES ('甲公司'), ('乙公司')""")
    holder = psycopg.connect(db_url)
    holder.execute('LOCK TABLE "明细" IN ACCESS EXCLUSIVE MODE')
    return holder


def test_a_table_locked_by_another_session_is_exit_1_after_the_lock_timeout(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    holder = _locked_table(db_url)
    try:
        env = {"WDH_LOCK_TIMEOUT": "1"}
        resolved = cli.invoke(
            app,
            ["--db", db_url, "resolve", "--table", "明细"],
            env={"WDH_ALIAS_SALT": "pepper", "WDH_MAPPINGS_DIR": str(tmp_path), **env},
        )
        rewritten = cli.invoke(app, ["--db", db_url, "rewrite", "--table", "明细"], env=env)
    finally:
        holder.close()
    for result in (resolved, rewritten):
        line = _one_line(result, 1)
        assert "明细" in line and "WDH_LOCK_TIMEOUT" in line, line
    with psycopg.connect(db_url) as conn:
        assert conn.execute('SELECT count(company_id) FROM "明细"').fetchone() == (0,)


def _small_table(db_url: str, id_type: str = "text") -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "明细" ("客户名称" text, company_id {id_type}, company_id_source text)'
        )
        conn.execute("""INSERT INTO "明细" ("客户名称") VALUES ('甲公司'), ('乙公司')""")


def _nothing_happened(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        assert conn.execute('SELECT count(company_id) FROM "明细"').fetchone() == (0,)
        queued = conn.execute("SELECT count(*) FROM enterprise.enrichment_requests").fetchone()
        assert queued == (0,)


def test_an_output_column_too_short_for_a_temporary_id_is_exit_2_before_any_batch(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    _small_table(db_url, "varchar(5)")
    line = _one_line(_wdh(cli, db_url, tmp_path, "resolve", "--table", "明细"), 2)
    assert line == (
        "error: public.明细: output column 'company_id' is character varying(5), too short "
        "for what wdh writes there (company IDs of up to 100 characters); widen it or use text"
    )
    _nothing_happened(db_url)


def test_a_role_that_may_not_update_the_table_is_told_before_any_batch(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    _small_table(db_url)
    role = f"wdh_reader_{abs(hash(db_url)) % 10**8}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        granted = _wdh(cli, db_url, tmp_path, "db", "grant", role)
        assert granted.exit_code == 0, granted.stderr
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'GRANT SELECT ON "明细" TO {role}')
        as_role = psycopg.conninfo.make_conninfo(db_url, user=role)
        line = _one_line(_wdh(cli, as_role, tmp_path, "resolve", "--table", "明细"), 1)
        assert "may not UPDATE column 'company_id'" in line
        _nothing_happened(db_url)
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_view_is_named_as_a_view(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    _small_table(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE VIEW "明细视图" AS SELECT * FROM "明细"')
    for command in ("resolve", "rewrite"):
        line = _one_line(_wdh(cli, db_url, tmp_path, command, "--table", "明细视图"), 2)
        assert line == (
            "error: public.明细视图 is a view, not a table: wdh updates a table's rows "
            "(give the table it reads from)"
        )
