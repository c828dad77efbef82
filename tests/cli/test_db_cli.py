"""`wdh db check | backup | restore` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from tests.helpers import ALL_VERSIONS
from wdh_cli.cli.app import app

JSON_KEYS = {
    "healthy",
    "reachable",
    "mode",
    "database",
    "server_version",
    "latency_ms",
    "migrations",
    "missing_objects",
    "migrations_current",
    "pool_max",
    "error",
}


def test_check_on_a_current_database(cli: CliRunner, db_url: str) -> None:
    result = cli.invoke(app, ["--db", db_url, "db", "check", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == JSON_KEYS
    assert data["healthy"] is True and data["mode"] == "url"
    assert data["migrations"] == {
        "applied": len(ALL_VERSIONS),
        "pending": 0,
        "changed": 0,
        "missing": 0,
    }
    assert data["missing_objects"] == []
    assert data["latency_ms"] >= 0 and data["server_version"]
    assert data["pool_max"] == 10

    human = cli.invoke(app, ["--db", db_url, "db", "check"])
    assert human.exit_code == 0
    assert f"{len(ALL_VERSIONS)} applied" in human.stdout and "pool size" in human.stdout


def test_check_with_pending_migrations_exits_3(cli: CliRunner, empty_db_url: str) -> None:
    result = cli.invoke(app, ["--db", empty_db_url, "db", "check"])
    assert result.exit_code == 3
    assert f"{len(ALL_VERSIONS)} pending" in result.stdout
    assert "wdh migrate up" in result.stderr


def test_check_is_unhealthy_when_the_history_cannot_be_read(cli: CliRunner, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE wdh.schema_history RENAME COLUMN checksum TO checksum_old")
    result = cli.invoke(app, ["--db", db_url, "db", "check", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["reachable"] is True and data["error"]
    assert data["healthy"] is False and data["migrations_current"] is False


def test_a_dropped_schema_is_unhealthy_and_every_hint_leads_somewhere(
    cli: CliRunner, db_url: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA enterprise CASCADE")  # the history in wdh is intact

    result = cli.invoke(app, ["--db", db_url, "db", "check", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["migrations_current"] is True  # the history alone says all is well
    assert data["missing_objects"] == ["schema enterprise"]  # it stands for what it held
    assert data["healthy"] is False

    human = cli.invoke(app, ["--db", db_url, "db", "check"])
    assert human.exit_code == 3
    assert "schema enterprise" in human.stdout
    assert "`wdh migrate verify`" in human.stderr
    assert "`wdh db restore FILE`" in human.stderr
    assert "`wdh migrate down --all --yes && wdh migrate up`" in human.stderr

    # The first hint: verify lists what is missing.
    verify = cli.invoke(app, ["--db", db_url, "migrate", "verify"])
    assert verify.exit_code == 3
    assert "schema enterprise is missing" in verify.stdout
    assert "relation enterprise.company_mapping is missing" in verify.stdout

    # A daily command that trips over it points to the checks, not to `migrate up`.
    queue = cli.invoke(app, ["--db", db_url, "queue", "status"])
    assert queue.exit_code == 1
    assert "`wdh db check`" in queue.stderr and "`wdh migrate verify`" in queue.stderr
    assert "run `wdh migrate up`" not in queue.stderr

    # The last hint, on a database with nothing to keep: it works as written.
    for args in (["migrate", "down", "--all", "--yes"], ["migrate", "up"]):
        step = cli.invoke(app, ["--db", db_url, *args])
        assert step.exit_code == 0, step.stderr
    assert cli.invoke(app, ["--db", db_url, "db", "check"]).exit_code == 0


def test_a_dropped_index_is_reported_and_restore_brings_it_back(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "before.dump"
    assert cli.invoke(app, ["--db", db_url, "db", "backup", str(archive)]).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP INDEX enterprise.idx_enrichment_requests_ready")
    result = cli.invoke(app, ["--db", db_url, "db", "check", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["missing_objects"] == [
        "index enterprise.idx_enrichment_requests_ready"
    ]
    assert cli.invoke(app, ["--db", db_url, "db", "restore", str(archive)]).exit_code == 0
    assert cli.invoke(app, ["--db", db_url, "db", "check"]).exit_code == 0


def test_check_on_an_unreachable_server_exits_3_without_the_password(cli: CliRunner) -> None:
    url = "postgresql://wdh:hunter2@127.0.0.1:1/wdh?connect_timeout=2"
    result = cli.invoke(app, ["--db", url, "db", "check", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["reachable"] is False and data["healthy"] is False
    assert data["database"] == "postgresql://wdh:***@127.0.0.1:1/wdh?connect_timeout=2"
    assert "hunter2" not in result.stdout + result.stderr


def test_backup_and_restore_round_trip(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    insert = (
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES ('P0001', '614810477', 'plan', 1)"
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(insert)
    archive = tmp_path / "backup.dump"

    result = cli.invoke(app, ["--db", db_url, "db", "backup", str(archive)])
    assert result.exit_code == 0, result.stderr
    assert archive.stat().st_size > 0

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM enterprise.company_mapping")
        conn.execute("DELETE FROM wdh.schema_history")

    result = cli.invoke(app, ["--db", db_url, "db", "restore", str(archive)])
    assert result.exit_code == 0, result.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT alias_name, canonical_id FROM enterprise.company_mapping")
        assert rows.fetchall() == [("P0001", "614810477")]
        versions = conn.execute("SELECT version FROM wdh.schema_history ORDER BY version")
        assert versions.fetchall() == [(v,) for v in ALL_VERSIONS]


def test_restore_of_a_missing_file_exits_2_naming_it(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.dump"
    result = cli.invoke(app, ["--db", db_url, "db", "restore", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.stderr
