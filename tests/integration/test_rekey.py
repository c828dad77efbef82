"""A database keyed with rules version 1, upgraded by `wdh names rekey` (docs/names.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.errors import NameRulesError
from wdh_cli.migrate import runner
from wdh_cli.namekeys import service
from wdh_cli.names import normalizer
from wdh_cli.providers.base import Candidate
from wdh_cli.queue import service as queue_service
from wdh_cli.queue.drain import DrainOptions, drain
from wdh_cli.tempids.generator import TempIdGenerator

v1 = normalizer(1)
SALT = "pepper"
GEN = TempIdGenerator(SALT)
SETTINGS = load_settings(alias_salt=SALT)


def _mapping(conn: psycopg.Connection, raw: str, company: str, priority: int, age: int) -> None:
    conn.execute(
        "INSERT INTO enterprise.company_mapping "
        "(alias_name, canonical_id, match_type, priority, created_at) "
        "VALUES (%s, %s, 'name', %s, now() - make_interval(days => %s))",
        (v1(raw), company, priority, age),
    )


def _request(conn: psycopg.Connection, raw: str, status: str, company: str | None = None) -> int:
    row = conn.execute(
        "INSERT INTO enterprise.enrichment_requests "
        "(raw_name, normalized_name, temp_id, status, resolved_company_id, rows_seen) "
        "VALUES (%s, %s, %s, %s, %s, 3) RETURNING id",
        (raw, v1(raw), GEN.for_key(v1(raw)), status, company),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def v1_db(empty_db: Database, empty_db_url: str) -> Database:
    """Migrations 1-4, keys written with the version-1 rules, then migration 0005."""
    runner.up(empty_db, to=4)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        _mapping(conn, "上海某某有限公司——已转出", "C1", 4, age=1)  # merges into the next
        _mapping(conn, "上海某某有限公司", "C1", 4, age=2)
        _mapping(conn, "「北京某某」有限公司", "C2", 4, age=5)  # conflict: loses to priority 3
        _mapping(conn, "北京某某有限公司", "C3", 3, age=1)
        _mapping(conn, "重庆机场集团有限公司(集团)", "C4", 4, age=1)  # changes alone
        _mapping(conn, "无", "C5", 4, age=1)  # a placeholder: emptied
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority) VALUES ('P1', 'C6', 'plan', 1)"
        )
        for raw, company in (("上海某某有限公司——已转出", "C1"), ("上海某某有限公司", "C1")):
            conn.execute(
                "INSERT INTO enterprise.provider_answers "
                "(provider, normalized_name, outcome, company_id) VALUES ('eqc', %s, 'match', %s)",
                (v1(raw), company),
            )
        _request(conn, "广州某某有限公司（待转移）", "pending")  # keeps its place, absorbs the next
        _request(conn, "广州某某有限公司", "pending")
        _request(conn, "深圳某某公司-核心", "done", "C9")  # done: moves, keeps its old ID
        _request(conn, "不详", "pending")  # a placeholder: closed
    runner.up(empty_db)
    return empty_db


def _all(conn: psycopg.Connection, sql: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql).fetchall()


def test_migration_0005_records_version_1_where_keys_exist(v1_db: Database) -> None:
    with v1_db.connect() as conn:
        assert _all(conn, "SELECT version FROM enterprise.name_rules") == [(1,)]


def test_a_fresh_database_starts_at_the_current_version(conn: psycopg.Connection) -> None:
    assert _all(conn, "SELECT version FROM enterprise.name_rules") == [(2,)]


def test_writers_refuse_before_rekey_and_readers_do_not(v1_db: Database) -> None:
    with pytest.raises(NameRulesError, match="wdh names rekey") as caught:
        queue_service.enqueue(v1_db, SETTINGS, ["某公司"])
    assert caught.value.exit_code == 1
    assert queue_service.resolved(v1_db, None) is not None  # reading works


def test_dry_run_reports_and_writes_nothing(v1_db: Database) -> None:
    with v1_db.connect() as conn:
        before = [
            _all(conn, f"SELECT * FROM enterprise.{t} ORDER BY 1, 2")
            for t in ("company_mapping", "provider_answers", "enrichment_requests", "name_rules")
        ]
    report = service.rekey(v1_db, SETTINGS, dry_run=True)
    assert (report.from_version, report.version, report.dry_run) == (1, 2, True)
    assert report.conflicts == 1 and report.merged == 3
    with v1_db.connect() as conn:
        after = [
            _all(conn, f"SELECT * FROM enterprise.{t} ORDER BY 1, 2")
            for t in ("company_mapping", "provider_answers", "enrichment_requests", "name_rules")
        ]
        assert _all(conn, "SELECT count(*) FROM enterprise.name_rekey_audit") == [(0,)]
    assert after == before


def test_rekey_changes_merges_audits_and_keeps_temporary_ids(v1_db: Database) -> None:
    report = service.rekey(v1_db, SETTINGS)
    # Mappings: 4 of the 5 name rows with a changed key move (one merged, one
    # conflicting, one placeholder); ledger: one moves and merges; requests:
    # three move (one placeholder) and the unchanged open one merges into them.
    assert (report.keys_changed, report.merged, report.conflicts, report.emptied) == (
        4 + 1 + 3,
        1 + 1 + 1,
        1,
        1 + 1,
    )
    assert [(c.table_name, c.removed, c.kept) for c in report.conflict_list] == [
        ("company_mapping", "C2", "C3")
    ]
    with v1_db.connect() as conn:
        assert _all(conn, "SELECT version FROM enterprise.name_rules") == [(2,)]
        assert _all(
            conn,
            "SELECT alias_name, canonical_id, match_type FROM enterprise.company_mapping "
            "ORDER BY alias_name",
        ) == [
            ("P1", "C6", "plan"),
            ("上海某某有限公司", "C1", "name"),
            ("北京某某有限公司", "C3", "name"),
            ("重庆机场集团有限公司", "C4", "name"),
        ]
        assert _all(
            conn, "SELECT provider, normalized_name, company_id FROM enterprise.provider_answers"
        ) == [("eqc", "上海某某有限公司", "C1")]
        audit = _all(
            conn,
            "SELECT table_name, old_key, new_key, reason, removed_row->>'canonical_id', "
            "kept_row->>'canonical_id' FROM enterprise.name_rekey_audit ORDER BY id",
        )
        assert sorted(audit) == [
            ("company_mapping", "「北京某某」有限公司", "北京某某有限公司", "conflict", "C2", "C3"),
            ("company_mapping", "无", "", "empty", "C5", None),
        ]
        requests = _all(
            conn,
            "SELECT raw_name, normalized_name, status, temp_id, previous_temp_ids, rows_seen "
            "FROM enterprise.enrichment_requests ORDER BY id",
        )
    old_guangzhou = GEN.for_key(v1("广州某某有限公司（待转移）"))
    new_guangzhou = GEN.for_key("广州某某有限公司")
    old_shenzhen = GEN.for_key(v1("深圳某某公司-核心"))
    assert requests == [
        # The two open requests merged: the older is kept under the new key,
        # with the ID of that key; the ID it held before is remembered.
        (
            "广州某某有限公司（待转移）",
            "广州某某有限公司",
            "pending",
            new_guangzhou,
            [old_guangzhou],
            6,
        ),
        (
            "深圳某某公司-核心",
            "深圳某某公司",
            "done",
            GEN.for_key("深圳某某公司"),
            [old_shenzhen],
            3,
        ),
        ("不详", "不详", "failed", GEN.for_key("不详"), [], 3),
    ]
    # Now writing works, and a second rekey changes nothing.
    assert queue_service.enqueue(v1_db, SETTINGS, ["广州某某有限公司"]).queued == 0
    again = service.rekey(v1_db, SETTINGS)
    assert (again.keys_changed, again.merged, again.conflicts, again.emptied) == (0, 0, 0, 0)


class _Provider:
    name = "fake"
    calls = 0

    def search(self, raw_name: str) -> list[Candidate]:
        self.calls += 1
        return [Candidate("C7", "广州某某有限公司", "91C7", "全称精确匹配", 1.0)]

    def close(self) -> None:
        pass


def test_queue_resolved_lists_the_old_temporary_ids_after_a_drain(v1_db: Database) -> None:
    service.rekey(v1_db, SETTINGS)
    options = DrainOptions.from_settings(load_settings(), batch=10)
    drain(v1_db, _Provider(), options)  # type: ignore[arg-type]
    resolved = {(r.temp_id, r.resolved_company_id) for r in queue_service.resolved(v1_db, None)}
    assert {
        (GEN.for_key("广州某某有限公司"), "C7"),
        (GEN.for_key(v1("广州某某有限公司（待转移）")), "C7"),
        (GEN.for_key("深圳某某公司"), "C9"),
        (GEN.for_key(v1("深圳某某公司-核心")), "C9"),
    } <= resolved
