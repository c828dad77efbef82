"""The migration runner against a real database: history, checksums, failures, down, verify."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.errors import MigrationError, MigrationStateError, UsageError
from wdh_cli.migrate import runner
from wdh_cli.migrate.files import checksum
from wdh_cli.migrate.verify import verify

SECOND_UP = "CREATE TABLE enterprise.notes (id integer PRIMARY KEY, body text);\n"
SECOND_DOWN = "DROP TABLE enterprise.notes;\n"


def _add_second(directory: Path, up: str = SECOND_UP) -> None:
    (directory / "0002_add_notes.up.sql").write_text(up)
    (directory / "0002_add_notes.down.sql").write_text(SECOND_DOWN)


def _states(db: Database) -> dict[int, str]:
    return {s.version: s.state for s in runner.status(db)}


def test_history_records_version_checksum_who_when_duration(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    report = runner.up(empty_db)
    assert [r.file for r in report.done] == ["0001_create_enterprise_schema.up.sql"]
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute(
            "SELECT version, description, checksum, applied_by, applied_at IS NOT NULL, "
            "execution_ms >= 0, success FROM wdh.schema_history"
        ).fetchone()
        user = conn.execute("SELECT current_user").fetchone()
    assert row is not None and user is not None
    up_sql = (
        Path(__file__).parents[2] / "sql/migrations/0001_create_enterprise_schema.up.sql"
    ).read_text()
    assert row == (1, "create_enterprise_schema", checksum(up_sql), user[0], True, True, True)


def test_checksum_ignores_line_endings() -> None:
    assert checksum("a\r\nb\r\n") == checksum("a\nb\n") == checksum("a\rb\r")
    assert checksum("a\nb\n") != checksum("a\nb \n")


def test_up_is_a_no_op_the_second_time(empty_db: Database, migrations_copy: Path) -> None:
    runner.up(empty_db)
    assert runner.up(empty_db).done == []
    assert _states(empty_db) == {1: "applied"}


def test_status_of_a_fresh_database_is_pending_and_creates_nothing(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    before = catalog(empty_db_url)
    assert _states(empty_db) == {1: "pending"}
    assert catalog(empty_db_url) == before


def test_dry_run_changes_nothing(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    before = catalog(empty_db_url)
    report = runner.up(empty_db, dry_run=True)
    assert [s.file for s in report.planned] == ["0001_create_enterprise_schema.up.sql"]
    assert report.done == []
    assert catalog(empty_db_url) == before

    runner.up(empty_db)
    applied = catalog(empty_db_url)
    report = runner.down(empty_db, dry_run=True)
    assert [s.file for s in report.planned] == ["0001_create_enterprise_schema.down.sql"]
    assert catalog(empty_db_url) == applied


def test_edited_migration_is_changed_and_blocks_up_and_down(
    empty_db: Database, migrations_copy: Path
) -> None:
    runner.up(empty_db)
    up_file = migrations_copy / "0001_create_enterprise_schema.up.sql"
    up_file.write_text(up_file.read_text() + "\n-- an innocent-looking edit\n")
    _add_second(migrations_copy)

    assert _states(empty_db) == {1: "changed", 2: "pending"}
    for action in (runner.up, runner.down):
        with pytest.raises(MigrationStateError, match=r"0001_create_enterprise_schema\.up\.sql"):
            action(empty_db)
    assert _states(empty_db) == {1: "changed", 2: "pending"}


def test_removed_migration_is_missing_and_blocks_up(
    empty_db: Database, migrations_copy: Path
) -> None:
    _add_second(migrations_copy)
    runner.up(empty_db)
    (migrations_copy / "0002_add_notes.up.sql").unlink()
    (migrations_copy / "0002_add_notes.down.sql").unlink()

    assert _states(empty_db) == {1: "applied", 2: "missing"}
    with pytest.raises(MigrationStateError, match=r"0002_add_notes\.up\.sql.*missing"):
        runner.up(empty_db)


def test_failing_migration_rolls_back_names_file_and_line_and_is_retried(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    runner.up(empty_db)
    broken = (
        "CREATE TABLE enterprise.half (id integer);\n\nSELECT no_such_column FROM enterprise.half;"
    )
    _add_second(migrations_copy, broken)

    with pytest.raises(MigrationError, match=r"0002_add_notes\.up\.sql line 3: .*no_such_column"):
        runner.up(empty_db)

    relations = {e.name for e in catalog(empty_db_url) if e.kind == "relation"}
    assert "enterprise.half" not in relations  # the whole migration rolled back
    [second] = [s for s in runner.status(empty_db) if s.version == 2]
    assert second.state == "pending"
    assert second.last_error is not None and "line 3" in second.last_error

    _add_second(migrations_copy)  # fixed file
    assert [r.version for r in runner.up(empty_db).done] == [2]
    assert _states(empty_db) == {1: "applied", 2: "applied"}


def test_up_to_and_down_steps_and_to(empty_db: Database, migrations_copy: Path) -> None:
    _add_second(migrations_copy)
    assert [r.version for r in runner.up(empty_db, to=1).done] == [1]
    assert _states(empty_db) == {1: "applied", 2: "pending"}
    runner.up(empty_db)
    assert [r.version for r in runner.down(empty_db, to=1).done] == [2]
    runner.up(empty_db)
    assert [r.version for r in runner.down(empty_db, steps=2).done] == [2, 1]
    runner.up(empty_db)
    assert [r.version for r in runner.down(empty_db, all_=True).done] == [2, 1]
    assert _states(empty_db) == {1: "pending", 2: "pending"}
    with pytest.raises(UsageError, match="--to 7"):
        runner.up(empty_db, to=7)


def test_a_pending_migration_older_than_an_applied_one_is_refused(
    empty_db: Database, migrations_copy: Path
) -> None:
    (migrations_copy / "0003_later.up.sql").write_text("SELECT 1;")
    (migrations_copy / "0003_later.down.sql").write_text("SELECT 1;")
    runner.up(empty_db)
    _add_second(migrations_copy)
    with pytest.raises(MigrationStateError, match=r"0002_add_notes\.up\.sql is pending but 0003"):
        runner.up(empty_db)


def test_verify_is_clean_after_up(db: Database) -> None:
    assert verify(db) == []


def test_verify_reports_a_dropped_index_and_an_altered_column(
    db: Database, conn: psycopg.Connection
) -> None:
    conn.execute("DROP INDEX enterprise.idx_company_mapping_lookup")
    conn.execute("ALTER TABLE enterprise.company_mapping ALTER COLUMN priority TYPE bigint")
    conn.execute("ALTER TABLE enterprise.company_master ALTER COLUMN source DROP DEFAULT")

    found = {(d.kind, d.name, d.problem) for d in verify(db)}
    assert found == {
        ("index", "enterprise.idx_company_mapping_lookup", "missing"),
        ("column", "enterprise.company_mapping.priority", "different"),
        ("column", "enterprise.company_master.source", "different"),
    }
    priority = next(d for d in verify(db) if d.name.endswith(".priority"))
    assert priority.expected == "integer NOT NULL"
    assert priority.actual == "bigint NOT NULL"


def test_verify_reports_an_unexpected_table(db: Database, conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE enterprise.scratch (x int)")
    problems = {(d.kind, d.name, d.problem) for d in verify(db)}
    assert ("relation", "enterprise.scratch", "unexpected") in problems


def test_verify_leaves_no_scratch_database_behind(db: Database, conn: psycopg.Connection) -> None:
    verify(db)
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'wdh_verify_%'")
    assert rows.fetchall() == []
