"""`wdh migrate baseline | repair` and up/down around them, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from tests.helpers import ALL_VERSIONS, catalog
from wdh_cli.cli.app import app
from wdh_cli.db.sqlfiles import read_sql

UP_FILE = "0001_create_enterprise_schema.up.sql"


def _adopted(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(read_sql("migrations", UP_FILE))


def _history(url: str) -> list[tuple[int, str, bool]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT version, checksum, baseline FROM wdh.schema_history")
        return sorted(rows.fetchall())


def test_up_on_an_existing_schema_refuses_naming_the_objects_and_baseline(
    cli: CliRunner, empty_db_url: str
) -> None:
    _adopted(empty_db_url)
    before = catalog(empty_db_url)
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "up"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "table enterprise.company_mapping" in result.stderr
    assert "`wdh migrate baseline --version N`" in result.stderr
    assert catalog(empty_db_url) == before


def test_baseline_then_up_then_status_is_current(cli: CliRunner, empty_db_url: str) -> None:
    _adopted(empty_db_url)
    refused = cli.invoke(app, ["--db", empty_db_url, "migrate", "baseline", "--version", "1"])
    assert refused.exit_code == 2  # off a terminal, --yes is required
    assert "--yes" in refused.stderr
    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "status"]).exit_code == 3
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('wdh.schema_history')").fetchone() == (None,)

    done = cli.invoke(app, ["--db", empty_db_url, "migrate", "baseline", "--version", "1", "--yes"])
    assert done.exit_code == 0, done.stderr
    assert f"baseline {UP_FILE} (not run)" in done.stderr
    assert "warning" not in done.stderr

    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "up"]).exit_code == 0
    status = cli.invoke(app, ["--db", empty_db_url, "migrate", "status", "--json"])
    assert status.exit_code == 0, status.stdout
    data = json.loads(status.stdout)
    assert list(data) == ["migrations", "current"]
    assert data["current"] is True
    assert [m["state"] for m in data["migrations"]] == ["baseline"] + ["applied"] * (
        len(ALL_VERSIONS) - 1
    )
    human = cli.invoke(app, ["--db", empty_db_url, "migrate", "status"])
    assert human.exit_code == 0 and "baseline" in human.stdout

    check = cli.invoke(app, ["--db", empty_db_url, "db", "check", "--json"])
    assert check.exit_code == 0, check.stderr
    counts = json.loads(check.stdout)["migrations"]
    assert counts == {"applied": len(ALL_VERSIONS), "pending": 0, "changed": 0, "missing": 0}


def test_baseline_is_refused_on_a_database_with_history(cli: CliRunner, db_url: str) -> None:
    before = _history(db_url)
    result = cli.invoke(app, ["--db", db_url, "migrate", "baseline", "--version", "1", "--yes"])
    assert result.exit_code == 1
    assert "refusing to baseline" in result.stderr and "already records" in result.stderr
    assert _history(db_url) == before


def test_baseline_of_a_version_that_does_not_exist_exits_2(
    cli: CliRunner, empty_db_url: str
) -> None:
    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "baseline", "--version", "42", "-y"])
    assert result.exit_code == 2
    assert "--version 42" in result.stderr


def test_down_that_would_revert_a_baseline_is_refused_and_reverts_nothing(
    cli: CliRunner, empty_db_url: str
) -> None:
    _adopted(empty_db_url)
    cli.invoke(app, ["--db", empty_db_url, "migrate", "baseline", "--version", "1", "--yes"])
    cli.invoke(app, ["--db", empty_db_url, "migrate", "up"])
    before, history = catalog(empty_db_url), _history(empty_db_url)

    result = cli.invoke(app, ["--db", empty_db_url, "migrate", "down", "--all", "--yes"])
    assert result.exit_code == 1
    assert UP_FILE in result.stderr and "nothing was reverted" in result.stderr
    assert "wdh migrate down --to 1" in result.stderr
    assert catalog(empty_db_url) == before and _history(empty_db_url) == history

    dry = cli.invoke(app, ["--db", empty_db_url, "migrate", "down", "--all", "--dry-run"])
    assert dry.exit_code == 1 and dry.stdout == ""


def test_repair_shows_the_checksums_needs_yes_off_a_terminal_and_then_records(
    cli: CliRunner, empty_db_url: str, migrations_copy: Path
) -> None:
    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "up"]).exit_code == 0
    [(_, recorded, _)] = _history(empty_db_url)
    up_file = migrations_copy / UP_FILE
    up_file.write_text(up_file.read_text() + "\n-- intended edit\n")

    check = cli.invoke(app, ["--db", empty_db_url, "db", "check"])
    assert check.exit_code == 3
    assert "`wdh migrate repair`" in check.stderr
    assert "run `wdh migrate up`" not in check.stderr

    refused = cli.invoke(app, ["--db", empty_db_url, "migrate", "repair"])
    assert refused.exit_code == 2
    assert f"{UP_FILE}: checksum {recorded} (recorded) -> " in refused.stdout
    assert "--yes" in refused.stderr
    assert _history(empty_db_url)[0][1] == recorded

    done = cli.invoke(app, ["--db", empty_db_url, "migrate", "repair", "--yes"])
    assert done.exit_code == 0, done.stderr
    assert "1 checksum(s) re-recorded" in done.stderr
    assert _history(empty_db_url)[0][1] != recorded
    assert cli.invoke(app, ["--db", empty_db_url, "migrate", "status"]).exit_code == 0

    again = cli.invoke(app, ["--db", empty_db_url, "migrate", "repair"])
    assert again.exit_code == 0 and "nothing to repair" in again.stderr
