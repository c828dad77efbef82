"""`wdh resolve --table` and `wdh rewrite --table` through the CLI: the warehouse loop."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.helpers import CLI_ENV, invoke_wdh, invoke_wdh_json, one_line_error
from wdh_cli.review.sheet import COLUMNS

TABLE = "ods.年金明细"
NAMES = [
    "上海浦东发展集团有限公司",  # the directory knows these three
    "浦发集团",
    "平安人寿",
    "无名小店",  # these two it does not
    "某某贸易",
]


def _table(db_url: str, names: list[str], *, copies: int = 3) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ods")
        conn.execute(
            'CREATE TABLE ods."年金明细" (id serial, "客户名称" text, "规模" numeric, '
            "company_id varchar(100), company_id_source text)"
        )
        for copy in range(copies):
            for name in names:
                conn.execute(
                    'INSERT INTO ods."年金明细" ("客户名称", "规模") VALUES (%s, %s)', (name, copy)
                )


def _answers(db_url: str) -> list[tuple[str, str | None, str | None]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            'SELECT "客户名称", company_id, company_id_source FROM ods."年金明细" ORDER BY id'
        ).fetchall()
    return [(a, b, c) for a, b, c in rows]


@pytest.mark.parametrize("style", ["hmac", "sequence"])
def test_rewrite_after_a_drain_replaces_the_temporary_ids(
    cli: CliRunner, db_url: str, style: str
) -> None:
    _table(db_url, NAMES)
    env = {"WDH_TEMP_ID_STYLE": style}
    resolved = invoke_wdh_json(
        cli, db_url, "resolve", "--table", TABLE, "--batch", "4", env=CLI_ENV | env
    )
    assert resolved["temp_ids_generated"] == 15 and resolved["batches"] == 4
    temp_ids = {company for _, company, _ in _answers(db_url)}
    prefix = "IN" if style == "hmac" else "TEMP_"
    assert len(temp_ids) == 5 and all(t and t.startswith(prefix) for t in temp_ids)

    assert invoke_wdh(cli, db_url, "queue", "drain", "--provider", "directory").exit_code == 0
    dry = invoke_wdh_json(cli, db_url, "rewrite", "--table", TABLE, "--dry-run")
    assert dry == {"rewritten": 9, "still_temporary": 6, "batches": 0}
    assert {c for _, c, _ in _answers(db_url)} == temp_ids  # the dry run wrote nothing

    done = invoke_wdh_json(cli, db_url, "rewrite", "--table", TABLE, "--batch", "2")
    assert done["rewritten"] == 9 and done["still_temporary"] == 6 and done["batches"] >= 1
    answers = _answers(db_url)
    known = {(n, c, s) for n, c, s in answers if n in NAMES[:3]}
    assert known == {
        ("上海浦东发展集团有限公司", "614810477", "directory"),
        ("浦发集团", "614810477", "directory"),
        ("平安人寿", "608349737", "directory"),
    }
    assert all(c and c.startswith(prefix) and s == "temp" for n, c, s in answers if n in NAMES[3:])
    again = invoke_wdh_json(cli, db_url, "rewrite", "--table", TABLE)
    assert again["rewritten"] == 0 and again["still_temporary"] == 6


def test_rewrite_after_a_review(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    _table(db_url, ["无名小店"], copies=2)
    assert invoke_wdh(cli, db_url, "resolve", "--table", TABLE).exit_code == 0
    assert invoke_wdh(cli, db_url, "queue", "drain", "--provider", "directory").exit_code == 0
    review = tmp_path / "review.csv"
    assert invoke_wdh(cli, db_url, "review", "export", str(review)).exit_code == 0
    rows = list(csv.DictReader(review.open(encoding="utf-8-sig")))
    assert len(rows) == 1
    rows[0] |= {"decision": "id", "company_id": "699999999"}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows({k: rows[0].get(k, "") for k in COLUMNS} for _ in range(1))
    review.write_text(buffer.getvalue(), encoding="utf-8")
    assert invoke_wdh_json(cli, db_url, "review", "apply", str(review))["applied"] == 1

    done = invoke_wdh_json(cli, db_url, "rewrite", "--table", TABLE)
    assert done["rewritten"] == 2 and done["still_temporary"] == 0
    assert {(c, s) for _, c, s in _answers(db_url)} == {("699999999", "review")}


def test_resolve_table_without_output_columns_is_exit_2_naming_them(
    cli: CliRunner, db_url: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "明细;表" ("客户名称" text)')
        conn.execute("""INSERT INTO "明细;表" VALUES ('甲公司')""")
    refused = invoke_wdh(cli, db_url, "resolve", "--table", "public.明细;表")
    assert one_line_error(refused, 2) == (
        "error: public.明细;表: no output column 'company_id', 'company_id_source' "
        "(--add-columns adds them as text)"
    )
    added = invoke_wdh_json(cli, db_url, "resolve", "--table", "public.明细;表", "--add-columns")
    assert added["temp_ids_generated"] == 1 and added["table"] == "public.明细;表"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resolve", "--table", "ods.nope"], "error: no table ods.nope"),
        (["rewrite", "--table", "ods.nope"], "error: no table ods.nope"),
        (["rewrite", "--table", TABLE, "--column", "x"], "no column 'x' (--column"),
        (["rewrite", "--table", TABLE, "--source-column", "y"], "no column 'y' (--source-column"),
        (["resolve", "--table", TABLE, "--col-name", "名称"], "no column '名称'"),
        (["resolve"], "error: give either an INPUT file or --table"),
        (["resolve", "x.csv", "--table", TABLE], "error: give either an INPUT file or --table"),
        (["resolve", "--table", TABLE, "--offline"], "--offline cannot be used with --table"),
    ],
)
def test_what_is_missing_is_one_line_and_exit_2(
    cli: CliRunner, db_url: str, args: list[str], message: str
) -> None:
    _table(db_url, NAMES[:1], copies=1)
    one_line_error(invoke_wdh(cli, db_url, *args), 2, message)


def test_rewrite_honours_the_ids_a_request_had_before_a_rekey(cli: CliRunner, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "明细" ("客户名称" text, company_id text)')
        conn.execute(
            """INSERT INTO "明细" VALUES ('旧写法', 'INOLDOLDOLDOLDOLD2'), """
            """('新写法', 'INNEWNEWNEWNEWNEW2')"""
        )
        conn.execute(
            "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id, "
            "previous_temp_ids, status, resolved_company_id, resolved_source) VALUES "
            "('新写法', '新写法', 'INNEWNEWNEWNEWNEW2', ARRAY['INOLDOLDOLDOLDOLD2'], 'done', "
            "'600000001', 'eqc')"
        )
    done = invoke_wdh_json(cli, db_url, "rewrite", "--table", "public.明细")
    assert done["rewritten"] == 2 and done["still_temporary"] == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute('SELECT DISTINCT company_id FROM "明细"').fetchall() == [("600000001",)]
