"""The columns `wdh resolve --table` and `wdh rewrite` write, checked before any batch.

Generated and identity columns, types that are not text, columns too short
for what wdh writes, and columns the role may not update are refused with
one line naming the table and the column: nothing is queued or written. A
column dropped while a rewrite runs is one line naming the table. The
installed `wdh` runs each case.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

from tests.helpers import WDH, one_line_error, run_wdh, wait_until, wdh_env
from wdh_cli.tempids.generator import TempIdGenerator

pytestmark = pytest.mark.e2e

SALT = "pepper"
NAMES = ["甲公司", "乙公司"]


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return wdh_env(
        WDH_DATABASE_URL=db_url,
        WDH_ALIAS_SALT=SALT,
        WDH_MAPPINGS_DIR=str(tmp_path),
        WDH_PROVIDER="none",
        **extra,
    )


def _table(db_url: str, id_column: str, source_column: str = "company_id_source text") -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "明细" ("客户名称" text, {id_column}, {source_column})')
        conn.execute("""INSERT INTO "明细" ("客户名称") VALUES ('甲公司'), ('乙公司')""")


def _queued(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM enterprise.enrichment_requests").fetchone()
    assert row is not None
    return int(row[0])


RESOLVE_REFUSED = [
    (
        "company_id text GENERATED ALWAYS AS ('C' || length(\"客户名称\")) STORED",
        "company_id_source text",
        "output column 'company_id' is a generated column: wdh cannot write it "
        "(--col-output names other output columns, which --add-columns adds)",
    ),
    (
        "company_id text",
        "company_id_source text GENERATED ALWAYS AS ('x') STORED",
        "output column 'company_id_source' is a generated column: wdh cannot write it "
        "(--col-output names other output columns, which --add-columns adds)",
    ),
    (
        "company_id bigint GENERATED ALWAYS AS IDENTITY",
        "company_id_source text",
        "output column 'company_id' is an identity column: wdh cannot write it "
        "(--col-output names other output columns, which --add-columns adds)",
    ),
    (
        "company_id bigint",
        "company_id_source text",
        "output column 'company_id' is bigint; it must be text or varchar",
    ),
    (
        "company_id name",
        "company_id_source text",
        "output column 'company_id' is name; it must be text or varchar",
    ),
    (
        "company_id varchar(64)",
        "company_id_source text",
        "output column 'company_id' is character varying(64), too short for what wdh writes "
        "there (company IDs of up to 100 characters); widen it or use text",
    ),
    (
        "company_id text",
        "company_id_source varchar(3)",
        "output column 'company_id_source' is character varying(3), too short for what wdh "
        "writes there (sources of up to 17 characters); widen it or use text",
    ),
]


@pytest.mark.parametrize(("id_column", "source_column", "problem"), RESOLVE_REFUSED)
def test_resolve_table_refuses_an_output_column_it_cannot_write_before_queueing(
    db_url: str, tmp_path: Path, id_column: str, source_column: str, problem: str
) -> None:
    _table(db_url, id_column, source_column)
    result = run_wdh("resolve", "--table", "明细", env=_env(db_url, tmp_path))
    assert one_line_error(result, 2) == f"error: public.明细: {problem}"
    assert _queued(db_url) == 0


def test_an_output_column_of_100_characters_is_enough(db_url: str, tmp_path: Path) -> None:
    _table(db_url, "company_id varchar(100)", "company_id_source char(17)")
    result = run_wdh("resolve", "--table", "明细", env=_env(db_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert _queued(db_url) == 2


def _resolved(db_url: str, company: dict[str, str], *, source: str = "eqc") -> None:
    """Requests of NAMES done with these companies, as a drain leaves them."""
    generator = TempIdGenerator(SALT)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name, company_id in company.items():
            conn.execute(
                "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id, "
                "status, resolved_company_id, resolved_source) "
                "VALUES (%s, %s, %s, 'done', %s, %s)",
                (name, name, generator.for_key(name), company_id, source),
            )


def _holding_temporary_ids(db_url: str, id_column: str, source_column: str) -> None:
    generator = TempIdGenerator(SALT)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "明细" ("客户名称" text, {id_column}, {source_column})')
        for name in NAMES:
            conn.execute(
                'INSERT INTO "明细" ("客户名称", company_id) VALUES (%s, %s)',
                (name, generator.for_key(name)),
            )


REWRITE_REFUSED = [
    (
        "company_id bigint",
        "company_id_source text",
        (),
        "column 'company_id' (--column) is bigint; it must be text or varchar",
    ),
    (
        "company_id varchar(18)",
        "company_id_source text",
        (),
        "column 'company_id' (--column) is character varying(18), too short for what wdh "
        "writes there (company IDs of up to 100 characters); widen it or use text",
    ),
    (
        "company_id text",
        "company_id_source varchar(3)",
        (),
        "column 'company_id_source' (--source-column) is character varying(3), too short for "
        "what wdh writes there (sources of up to 17 characters); widen it or use text",
    ),
    (
        "company_id text",
        "origin varchar(3)",
        ("--source-column", "origin"),
        "column 'origin' (--source-column) is character varying(3), too short for what wdh "
        "writes there (sources of up to 17 characters); widen it or use text",
    ),
    (
        "company_id text",
        "company_id_source text GENERATED ALWAYS AS ('x') STORED",
        (),
        "column 'company_id_source' (--source-column) is a generated column: wdh cannot write it",
    ),
    (
        "company_id text",
        "company_id_source integer GENERATED BY DEFAULT AS IDENTITY",
        (),
        "column 'company_id_source' (--source-column) is an identity column: wdh cannot write it",
    ),
    (
        "company_id text",
        "company_id_source text",
        ("--source-column", "company_id"),
        "--column and --source-column both name 'company_id': give the source its own column",
    ),
]


@pytest.mark.parametrize(("id_column", "source_column", "options", "problem"), REWRITE_REFUSED)
def test_rewrite_refuses_a_column_it_cannot_write_before_any_batch(
    db_url: str,
    tmp_path: Path,
    id_column: str,
    source_column: str,
    options: tuple[str, ...],
    problem: str,
) -> None:
    if "bigint" in id_column:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'CREATE TABLE "明细" ("客户名称" text, {id_column}, {source_column})')
            conn.execute("""INSERT INTO "明细" VALUES ('甲公司', 123)""")
    else:
        _holding_temporary_ids(db_url, id_column, source_column)
    _resolved(db_url, {"甲公司": "C1", "乙公司": "C2"})
    with psycopg.connect(db_url) as conn:
        before = conn.execute('SELECT * FROM "明细" ORDER BY 1').fetchall()
    result = run_wdh("rewrite", "--table", "明细", *options, env=_env(db_url, tmp_path))
    assert one_line_error(result, 2) == f"error: public.明细: {problem}"
    with psycopg.connect(db_url) as conn:
        assert conn.execute('SELECT * FROM "明细" ORDER BY 1').fetchall() == before


def test_rewrite_needs_update_on_its_columns(db_url: str, tmp_path: Path) -> None:
    _holding_temporary_ids(db_url, "company_id text", "company_id_source text")
    _resolved(db_url, {"甲公司": "C1"})
    role = f"wdh_reader_{abs(hash(db_url)) % 10**8}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        granted = run_wdh("db", "grant", role, env=_env(db_url, tmp_path))
        assert granted.returncode == 0, granted.stderr
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'GRANT SELECT, UPDATE (company_id) ON "明细" TO {role}')
        as_role = psycopg.conninfo.make_conninfo(db_url, user=role)
        result = run_wdh("rewrite", "--table", "明细", env=_env(as_role, tmp_path))
        assert one_line_error(result, 1) == (
            "error: public.明细: the connected role may not UPDATE column 'company_id_source' "
            "(the table's owner grants it: GRANT UPDATE ON the table TO the role)"
        )
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def _waiting_for_lock(db_url: str, query: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            (query,),
        ).fetchone()
    return bool(row and row[0])


def test_a_column_dropped_between_batches_is_one_line_naming_the_table(
    db_url: str, tmp_path: Path
) -> None:
    """Batch 1 waits for a row lock; meanwhile a DROP COLUMN queues behind it, so it lands
    between batch 1 and batch 2: deterministic, whatever the machine's speed."""
    generator = TempIdGenerator(SALT)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "明细" ("客户名称" text, company_id text, filler text)')
        # About 4 rows a page: --batch 1 makes a batch of one page.
        conn.execute(
            """INSERT INTO "明细" SELECT '甲公司', %s, repeat('x', 1800)
               FROM generate_series(1, 40)""",
            (generator.for_key("甲公司"),),
        )
        conn.execute('ANALYZE "明细"')
    _resolved(db_url, {"甲公司": "C1"})

    holder = psycopg.connect(db_url)  # holds a row of page 0 until told to let go
    holder.execute("""SELECT 1 FROM "明细" WHERE ctid = '(0,1)' FOR UPDATE""")
    env = _env(db_url, tmp_path)
    rewrite = subprocess.Popen(
        [WDH, "rewrite", "--table", "明细", "--batch", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    dropper: threading.Thread | None = None
    try:
        wait_until(
            lambda: _waiting_for_lock(db_url, "%UPDATE%明细%"), "batch 1's lock wait", timeout=30
        )

        def drop() -> None:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute('ALTER TABLE "明细" DROP COLUMN company_id')

        dropper = threading.Thread(target=drop)
        dropper.start()
        wait_until(
            lambda: _waiting_for_lock(db_url, "ALTER TABLE%"), "the DROP's lock wait", timeout=30
        )
        holder.rollback()  # batch 1 commits, the DROP goes next, then batch 2 meets it
        stdout, stderr = rewrite.communicate(timeout=60)
    finally:
        holder.close()
        if rewrite.poll() is None:
            rewrite.kill()
        if dropper is not None:
            dropper.join(timeout=60)
    result = subprocess.CompletedProcess(rewrite.args, rewrite.returncode, stdout, stderr)
    line = one_line_error(result, 1)
    assert line == (
        "error: public.明细 changed while wdh rewrite ran: column t.company_id does not exist; "
        "the current batch was rolled back, committed batches stay: check the table, then run "
        "the same command again"
    )


def test_every_source_rewrite_writes_fits_the_source_column_it_asks_for() -> None:
    """rewrite writes a request's resolved_source: a provider's name or a review's."""
    from wdh_cli.providers.names import ProviderName
    from wdh_cli.review.service import SOURCE as REVIEW
    from wdh_cli.warehouse.checks import SOURCES

    assert max(len(s) for s in (REVIEW, *ProviderName)) <= SOURCES.length
