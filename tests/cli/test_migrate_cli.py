"""`wdh migrate ...` through the CLI: exit codes, what goes to stdout and to stderr."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers import ALL_VERSIONS, catalog
from wdh_cli.cli.app import app

UP_FILE = "0001_create_enterprise_schema.up.sql"


def test_status_of_a_fresh_database_exits_3(cli: CliRunner, empty_db_url: str) -> None:
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "status"])
    assert result.exit_code == 3
    assert "0001" in result.stdout and "pending" in result.stdout
    assert result.stderr == ""


def test_up_then_status_is_current(cli: CliRunner, empty_db_url: str) -> None:
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "up"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"applied {UP_FILE}" in result.stderr

    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "status", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["current"] is True
    assert [(m["version"], m["state"]) for m in data["migrations"]] == [
        (version, "applied") for version in ALL_VERSIONS
    ]

    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "up"])
    assert result.exit_code == 0
    assert "nothing to do" in result.stderr


def test_dry_run_prints_the_sql_and_changes_nothing(cli: CliRunner, empty_db_url: str) -> None:
    before = catalog(empty_db_url)
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "up", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"-- {UP_FILE}\n")
    assert "CREATE TABLE IF NOT EXISTS enterprise.company_mapping" in result.stdout
    assert "nothing was changed" in result.stderr
    assert catalog(empty_db_url) == before


def test_edited_migration_status_exit_3_and_up_refuses_naming_the_file(
    cli: CliRunner, empty_db_url: str, migrations_copy: Path
) -> None:
    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "up"]).exit_code == 0
    up_file = migrations_copy / UP_FILE
    up_file.write_text(up_file.read_text().replace("IF NOT EXISTS", "if not exists", 1))

    status = cli.invoke(app, ["--db", empty_db_url, "migrate", "status"])
    assert status.exit_code == 3
    assert "changed" in status.stdout

    up = cli.invoke(app, ["--db", empty_db_url, "migrate", "up"])
    assert up.exit_code == 1
    assert up.stdout == ""
    assert UP_FILE in up.stderr and "edited after it was applied" in up.stderr
    assert "Traceback" not in up.stderr


def test_verify_lists_drift_and_exits_3(cli: CliRunner, db_url: str) -> None:
    clean = cli.invoke(app, ["--db", db_url, "migrate", "verify"])
    assert clean.exit_code == 0
    assert clean.stdout.startswith("ok")

    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP INDEX enterprise.idx_enrichment_requests_status")
        conn.execute("ALTER TABLE enterprise.company_master ALTER COLUMN aliases TYPE text")

    drift = cli.invoke(app, ["--db", db_url, "migrate", "verify"])
    assert drift.exit_code == 3
    assert "index enterprise.idx_enrichment_requests_status is missing" in drift.stdout
    assert (
        "column enterprise.company_master.aliases: expected text[] NULL, found text NULL"
        in drift.stdout
    )

    as_json = cli.invoke(app, ["--db", db_url, "migrate", "verify", "--json"])
    assert as_json.exit_code == 3
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    assert len(data["differences"]) == 2


def test_verify_of_an_edited_migration_is_a_failed_check_naming_file_and_repair(
    cli: CliRunner, empty_db_url: str, migrations_copy: Path
) -> None:
    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "up"]).exit_code == 0
    up_file = migrations_copy / UP_FILE
    up_file.write_text(up_file.read_text() + "\n-- edited\n")
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "verify"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert UP_FILE in result.stderr and "`wdh migrate repair`" in result.stderr
    assert result.stderr.count("\n") == 1


def test_down_all_needs_yes_without_a_terminal(cli: CliRunner, db_url: str) -> None:
    refused = cli.invoke(app, ["--db", db_url, "migrate", "down", "--all"])
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr

    done = cli.invoke(app, ["--db", db_url, "migrate", "down", "--all", "--yes"])
    assert done.exit_code == 0, done.stderr
    assert "reverted 0001_create_enterprise_schema.down.sql" in done.stderr
    assert cli.invoke(app, ["--db", db_url, "migrate", "status"]).exit_code == 3


def test_unreachable_database_exits_1_with_the_password_masked(cli: CliRunner) -> None:
    url = "postgresql://wdh:s3cret-pw@127.0.0.1:1/wdh?connect_timeout=2"
    result = cli.invoke(app, ["--db", url, "migrate", "status"])
    assert result.exit_code == 1
    assert "cannot reach the database postgresql://wdh:***@127.0.0.1:1/wdh" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_invalid_setting_exits_2_naming_it(cli: CliRunner) -> None:
    result = cli.invoke(app, ["migrate", "status"], env={"WDH_POOL_MAX": "lots"})
    assert result.exit_code == 2
    assert "WDH_POOL_MAX" in result.stderr
    assert "lots" not in result.stderr


def test_pool_max_is_capped_at_100() -> None:
    from wdh_cli.config import load_settings

    assert load_settings(pool_max=500).pool_max == 100
    assert load_settings().pool_max == 10
