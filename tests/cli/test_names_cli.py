"""`wdh names rekey | check` and the refusal to write into an older database, through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from tests.helpers import invoke_wdh
from wdh_cli.cli.app import app
from wdh_cli.names import normalizer

v1 = normalizer(1)


def _make_version_1(db_url: str) -> None:
    """Keys written with the version-1 rules, and the record saying so."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE enterprise.name_rules SET version = 1")
        for raw, company in (("上海某某有限公司——已转出", "C1"), ("「北京某某」有限公司", "C2")):
            conn.execute(
                "INSERT INTO enterprise.company_mapping "
                "(alias_name, canonical_id, match_type, priority) VALUES (%s, %s, 'name', 4)",
                (v1(raw), company),
            )
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority) "
            "VALUES ('北京某某有限公司', 'C3', 'name', 3)"
        )


def test_writers_refuse_an_older_database_and_readers_work(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    _make_version_1(db_url)
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n上海某某有限公司\n", encoding="utf-8")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE rows ("客户名称" text, company_id text, company_id_source text)')
        conn.execute("INSERT INTO rows VALUES ('上海某某有限公司', NULL, NULL)")
    for args in (
        ["queue", "enqueue", "某公司"],
        ["resolve", str(source), "--output", str(tmp_path / "out.csv")],
        ["resolve", "--table", "public.rows"],
        ["queue", "drain", "--provider", "directory"],
    ):
        result = invoke_wdh(cli, db_url, *args)
        assert result.exit_code == 1, (args, result.stdout)
        assert result.stdout == ""
        assert "wdh names rekey" in result.stderr and "version 1" in result.stderr
    assert not (tmp_path / "out.csv").exists()
    with psycopg.connect(db_url) as conn:
        untouched = conn.execute("SELECT company_id FROM rows").fetchall()
    assert untouched == [(None,)]
    for args in (
        ["resolve", str(source), "--plan-only"],
        ["resolve", "--table", "public.rows", "--plan-only"],
        ["resolve", str(source), "--offline", "--output", str(tmp_path / "offline.csv")],
        ["explain", "上海某某有限公司"],
        ["queue", "status"],
    ):
        result = invoke_wdh(cli, db_url, *args)
        assert result.exit_code == 0, (args, result.stderr)


def test_dry_run_then_rekey(cli: CliRunner, db_url: str) -> None:
    _make_version_1(db_url)
    planned = invoke_wdh(cli, db_url, "names", "rekey", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.stderr
    report = json.loads(planned.stdout)
    assert {k: report[k] for k in ("keys_changed", "merged", "conflicts", "version")} == {
        "keys_changed": 2,
        "merged": 0,
        "conflicts": 1,
        "version": 2,
    }
    assert report["dry_run"] is True and report["from_version"] == 1
    assert report["conflict_list"] == [
        {
            "table_name": "company_mapping",
            "old_key": "「北京某某」有限公司",
            "new_key": "北京某某有限公司",
            "removed": "C2",
            "kept": "C3",
        }
    ]
    # Still refused: the dry run wrote nothing.
    assert invoke_wdh(cli, db_url, "queue", "enqueue", "某公司").exit_code == 1

    done = invoke_wdh(cli, db_url, "names", "rekey")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith(
        "name rules version 1 -> 2: keys changed 2, merged 0, conflicts 1, emptied 0"
    )
    assert "enterprise.name_rekey_audit" in done.stdout
    enqueued = invoke_wdh(cli, db_url, "queue", "enqueue", "某公司", "--json")
    assert enqueued.exit_code == 0, enqueued.stderr
    resolved = invoke_wdh(cli, db_url, "queue", "resolved")
    assert next(csv.reader(io.StringIO(resolved.stdout)))[0] == "temp_id"


def test_check_lists_the_names_whose_key_changes(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "names.csv"
    source.write_text(
        "公司\n上海某某有限公司\n「上海某某」有限公司\n无\n中国银行（香港）\n无\n", encoding="utf-8"
    )
    _make_version_1(db_url)
    result = invoke_wdh(cli, db_url, "names", "check", str(source), "--col-name", "公司", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "stored_version": 1,
        "version": 2,
        "names": 4,
        "keys_changed": 2,
        "changes": [
            {
                "name": "「上海某某」有限公司",
                "old_key": "「上海某某」有限公司",
                "new_key": "上海某某有限公司",
            },
            {"name": "无", "old_key": "无", "new_key": ""},
        ],
    }
    human = invoke_wdh(cli, db_url, "names", "check", str(source), "--col-name", "公司")
    assert human.stdout.startswith("name rules version 1 -> 2: 2 of 4 name(s) get another key")
    offline = cli.invoke(
        app, ["names", "check", str(source), "--col-name", "公司", "--from-version", "2"]
    )
    assert offline.exit_code == 0 and "0 of 4" in offline.stdout
    missing = invoke_wdh(cli, db_url, "names", "check", str(source))
    assert missing.exit_code == 2 and "客户名称" in missing.stderr
