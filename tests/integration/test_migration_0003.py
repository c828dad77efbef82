"""Migration 0003: retry time and claim columns, and the indexes the claim query uses."""

from __future__ import annotations

import psycopg

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.migrate import runner

UP = read_sql("migrations", "0003_add_queue_claims.up.sql")


def _queue_objects(url: str) -> dict[tuple[str, str], str]:
    return {
        (e.kind, e.name): e.definition
        for e in catalog(url, without=("wdh",))
        if e.kind in ("column", "index") and "enrichment_requests" in e.name
    }


def test_up_adds_columns_and_partial_indexes(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=2)
    before = _queue_objects(empty_db_url)
    runner.up(empty_db, to=3)
    added = {k: v for k, v in _queue_objects(empty_db_url).items() if k not in before}
    assert added == {
        ("column", "enterprise.enrichment_requests.next_retry_at"): (
            "timestamp with time zone NOT NULL DEFAULT now()"
        ),
        ("column", "enterprise.enrichment_requests.claimed_at"): "timestamp with time zone NULL",
        ("column", "enterprise.enrichment_requests.worker_id"): "character varying(100) NULL",
        ("index", "enterprise.idx_enrichment_requests_ready"): (
            "CREATE INDEX idx_enrichment_requests_ready ON enterprise.enrichment_requests "
            "USING btree (next_retry_at, id) WHERE ((status)::text = 'pending'::text)"
        ),
        ("index", "enterprise.idx_enrichment_requests_claimed"): (
            "CREATE INDEX idx_enrichment_requests_claimed ON enterprise.enrichment_requests "
            "USING btree (claimed_at) WHERE ((status)::text = 'processing'::text)"
        ),
    }


def test_round_trip_keeps_rows_and_is_idempotent(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=2)
    before = catalog(empty_db_url, without=("wdh",))
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name) "
            "VALUES ('a', 'a')"
        )
        runner.up(empty_db, to=3)
        applied = catalog(empty_db_url, without=("wdh",))
        conn.execute(UP)
        assert catalog(empty_db_url, without=("wdh",)) == applied
        row = conn.execute(
            "SELECT next_retry_at IS NOT NULL FROM enterprise.enrichment_requests"
        ).fetchone()
        assert row == (True,)
        runner.down(empty_db, to=2)
        assert catalog(empty_db_url, without=("wdh",)) == before
        count = conn.execute("SELECT count(*) FROM enterprise.enrichment_requests").fetchone()
        assert count == (1,)
