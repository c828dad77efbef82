"""Migration 0004: the provider ledger, rows_seen / resolved_source, the name index."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.migrate import runner

UP = read_sql("migrations", "0004_add_provider_ledger.up.sql")


def test_round_trip_keeps_rows_and_is_idempotent(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=3)
    before = catalog(empty_db_url, without=("wdh",))
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name) "
            "VALUES ('a', 'a')"
        )
        runner.up(empty_db, to=4)
        applied = catalog(empty_db_url, without=("wdh",))
        assert ("relation", "enterprise.provider_answers") in {(e.kind, e.name) for e in applied}
        conn.execute(UP)
        assert catalog(empty_db_url, without=("wdh",)) == applied
        row = conn.execute(
            "SELECT rows_seen, last_seen_at, resolved_source FROM enterprise.enrichment_requests"
        ).fetchone()
        assert row == (0, None, None)
        runner.down(empty_db, to=3)
        assert catalog(empty_db_url, without=("wdh",)) == before
        count = conn.execute("SELECT count(*) FROM enterprise.enrichment_requests").fetchone()
        assert count == (1,)


def test_the_ledger_refuses_inconsistent_answers(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO enterprise.provider_answers (provider, normalized_name, outcome, company_id) "
        "VALUES ('eqc', 'a', 'match', 'C1'), ('eqc', 'b', 'no_match', NULL)"
    )
    for outcome, company in (("match", None), ("no_match", "C2"), ("maybe", None)):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO enterprise.provider_answers "
                "(provider, normalized_name, outcome, company_id) VALUES ('eqc', 'c', %s, %s)",
                (outcome, company),
            )
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO enterprise.provider_answers (provider, normalized_name, outcome) "
            "VALUES ('eqc', 'b', 'no_match')"
        )
