"""Hostile tables for `wdh resolve --table` and `wdh rewrite`: one line, the right exit, no harm."""

from __future__ import annotations

from pathlib import Path

import psycopg
from typer.testing import CliRunner

from tests.helpers import invoke_wdh, invoke_wdh_json, one_line_error


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"WDH_ALIAS_SALT": "pepper", "WDH_MAPPINGS_DIR": str(tmp_path), **extra}


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
    result = invoke_wdh_json(
        cli, db_url, "resolve", "--table", "明细", "--batch", "1", env=_env(tmp_path)
    )
    assert result["temp_ids_generated"] == 3
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
        resolved = invoke_wdh(cli, db_url, "resolve", "--table", "明细", env=_env(tmp_path, **env))
        rewritten = invoke_wdh(cli, db_url, "rewrite", "--table", "明细", env=env)
    finally:
        holder.close()
    for result in (resolved, rewritten):
        line = one_line_error(result, 1)
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
    line = one_line_error(
        invoke_wdh(cli, db_url, "resolve", "--table", "明细", env=_env(tmp_path)), 2
    )
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
        granted = invoke_wdh(cli, db_url, "db", "grant", role, env=_env(tmp_path))
        assert granted.exit_code == 0, granted.stderr
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'GRANT SELECT ON "明细" TO {role}')
        as_role = psycopg.conninfo.make_conninfo(db_url, user=role)
        line = one_line_error(
            invoke_wdh(cli, as_role, "resolve", "--table", "明细", env=_env(tmp_path)), 1
        )
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
        line = one_line_error(
            invoke_wdh(cli, db_url, command, "--table", "明细视图", env=_env(tmp_path)), 2
        )
        assert line == (
            "error: public.明细视图 is a view, not a table: wdh updates a table's rows "
            "(give the table it reads from)"
        )
