"""Adopting a schema another tool made: up refuses it, baseline records it, down leaves it."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.helpers import ALL_VERSIONS, catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.errors import MigrationStateError, UsageError
from wdh_cli.migrate import runner
from wdh_cli.migrate.files import discover
from wdh_cli.migrate.plan import StatusReport

UP_0001 = read_sql("migrations", "0001_create_enterprise_schema.up.sql")


def _made_by_another_tool(url: str) -> None:
    """The enterprise schema as another tool made it: 0001's tables, with data, no history."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(UP_0001)
        conn.execute(
            "INSERT INTO enterprise.company_master (company_id, official_name) "
            "VALUES ('C1', '甲公司')"
        )


def _history(url: str) -> list[tuple[int, str, bool, bool]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT version, checksum, success, baseline FROM wdh.schema_history ORDER BY version"
        )
        return rows.fetchall()


def _states(db: Database) -> dict[int, str]:
    return {s.version: s.state for s in runner.status(db)}


def test_up_refuses_objects_it_did_not_create_and_changes_nothing(
    empty_db: Database, empty_db_url: str
) -> None:
    _made_by_another_tool(empty_db_url)
    before = catalog(empty_db_url)
    for dry_run in (True, False):
        with pytest.raises(MigrationStateError) as refused:
            runner.up(empty_db, dry_run=dry_run)
        message = refused.value.message
        assert "0001_create_enterprise_schema (table enterprise.company_master" in message
        assert "index enterprise.idx_enrichment_requests_normalized" in message
        assert "`wdh migrate baseline --version N`" in message
    assert catalog(empty_db_url) == before  # not even the history table


def test_a_schema_made_ready_for_wdh_is_not_refused(empty_db: Database, empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA enterprise")
    assert [r.version for r in runner.up(empty_db).done] == ALL_VERSIONS


def test_baseline_records_without_running_then_up_applies_the_rest(
    empty_db: Database, empty_db_url: str
) -> None:
    _made_by_another_tool(empty_db_url)
    before = catalog(empty_db_url)
    report = runner.baseline(empty_db, version=1)
    assert report.recorded == ["0001_create_enterprise_schema.up.sql"]
    assert report.missing_objects == []
    assert catalog(empty_db_url, without=("wdh",)) == before  # nothing ran
    first = discover()[0]
    assert _history(empty_db_url) == [(1, first.checksum, True, True)]
    later = ALL_VERSIONS[1:]
    assert _states(empty_db) == {1: "baseline"} | dict.fromkeys(later, "pending")

    assert [r.version for r in runner.up(empty_db).done] == later
    statuses = runner.status(empty_db)
    assert [s.state for s in statuses] == ["baseline"] + ["applied"] * len(later)
    assert StatusReport(statuses).current


def test_baseline_is_refused_once_there_is_history(db: Database, db_url: str) -> None:
    before = _history(db_url)
    with pytest.raises(MigrationStateError, match=r"already records migrations \(0001, 0002"):
        runner.baseline(db, version=1)
    assert _history(db_url) == before


def test_baseline_of_an_unknown_version_is_a_usage_error(empty_db: Database) -> None:
    with pytest.raises(UsageError, match="--version 9"):
        runner.baseline(empty_db, version=9)


def test_baseline_of_an_empty_database_names_what_is_missing(empty_db: Database) -> None:
    report = runner.baseline(empty_db, version=1)
    assert "table enterprise.company_master" in [o.describe() for o in report.missing_objects]


def test_down_never_reverts_a_baselined_migration(empty_db: Database, empty_db_url: str) -> None:
    _made_by_another_tool(empty_db_url)
    runner.baseline(empty_db, version=1)
    runner.up(empty_db)
    before, history = catalog(empty_db_url), _history(empty_db_url)

    for kwargs in ({"all_": True}, {"steps": len(ALL_VERSIONS)}, {"to": 0}):
        with pytest.raises(MigrationStateError, match="nothing was reverted"):
            runner.down(empty_db, **kwargs)  # type: ignore[arg-type]
    assert catalog(empty_db_url) == before
    assert _history(empty_db_url) == history

    assert [r.version for r in runner.down(empty_db, to=1).done] == ALL_VERSIONS[:0:-1]
    with pytest.raises(MigrationStateError, match="recorded by `wdh migrate baseline`"):
        runner.down(empty_db)
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute("SELECT official_name FROM enterprise.company_master").fetchone()
    assert row == ("甲公司",)  # the other tool's data is still there


def test_repair_records_edited_checksums_and_drops_failed_attempts(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    runner.up(empty_db)
    up_file = migrations_copy / "0001_create_enterprise_schema.up.sql"
    recorded = discover(migrations_copy)[0].checksum
    up_file.write_text(up_file.read_text() + "\n-- a comment added on purpose\n")
    edited = discover(migrations_copy)[0].checksum
    (migrations_copy / "0002_broken.up.sql").write_text("SELECT no_such_column;")
    (migrations_copy / "0002_broken.down.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationStateError):
        runner.up(empty_db)  # refused: 0001 changed
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wdh.schema_history (version, description, checksum, execution_ms, "
            "success, error) VALUES (2, 'broken', %s, 1, false, 'boom')",
            ("0" * 64,),
        )
    assert _states(empty_db) == {1: "changed", 2: "pending"}

    seen = []
    declined = runner.repair(empty_db, confirm=lambda plan: seen.append(plan) or False)
    assert not declined.repaired
    [plan] = seen
    assert [(c.version, c.recorded, c.current) for c in plan.checksums] == [(1, recorded, edited)]
    assert [(f.version, f.error) for f in plan.failed] == [(2, "boom")]
    assert _states(empty_db) == {1: "changed", 2: "pending"}  # declined: nothing changed

    assert runner.repair(empty_db, confirm=lambda plan: True).repaired
    assert _history(empty_db_url) == [(1, edited, True, False)]
    assert _states(empty_db) == {1: "applied", 2: "pending"}
    again = runner.repair(empty_db, confirm=lambda plan: pytest.fail("nothing to confirm"))
    assert again.plan.empty and not again.repaired


def test_repair_keeps_a_baseline_a_baseline(
    empty_db: Database, empty_db_url: str, migrations_copy: Path
) -> None:
    _made_by_another_tool(empty_db_url)
    runner.baseline(empty_db, version=1)
    up_file = migrations_copy / "0001_create_enterprise_schema.up.sql"
    up_file.write_text(up_file.read_text() + "\n-- edited\n")
    assert _states(empty_db) == {1: "changed"}
    runner.repair(empty_db, confirm=lambda plan: True)
    assert _states(empty_db) == {1: "baseline"}


def test_a_history_table_from_before_baseline_still_reads(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE wdh.schema_history DROP COLUMN baseline")
    assert set(_states(empty_db).values()) == {"applied"}
    runner.down(empty_db)  # a real run brings the column back
    assert [row[3] for row in _history(empty_db_url)] == [False] * (len(ALL_VERSIONS) - 1)
