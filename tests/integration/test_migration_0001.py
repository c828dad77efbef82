"""Migration 0001 creates exactly the seed story's enterprise schema; its down undoes it."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.migrate import runner

UP = read_sql("migrations", "0001_create_enterprise_schema.up.sql")
DOWN = read_sql("migrations", "0001_create_enterprise_schema.down.sql")

TS = "timestamp with time zone NOT NULL DEFAULT now()"
EXPECTED_COLUMNS = {
    "enterprise.company_master.company_id": "character varying(100) NOT NULL",
    "enterprise.company_master.official_name": "character varying(255) NOT NULL",
    "enterprise.company_master.unified_credit_code": "character varying(50) NULL",
    "enterprise.company_master.aliases": "text[] NULL",
    "enterprise.company_master.source": (
        "character varying(50) NOT NULL DEFAULT 'internal'::character varying"
    ),
    "enterprise.company_master.created_at": TS,
    "enterprise.company_master.updated_at": TS,
    "enterprise.company_mapping.id": (
        "integer NOT NULL DEFAULT nextval('enterprise.company_mapping_id_seq'::regclass)"
    ),
    "enterprise.company_mapping.alias_name": "character varying(255) NOT NULL",
    "enterprise.company_mapping.canonical_id": "character varying(100) NOT NULL",
    "enterprise.company_mapping.match_type": "character varying(20) NOT NULL",
    "enterprise.company_mapping.priority": "integer NOT NULL",
    "enterprise.company_mapping.source": (
        "character varying(50) NOT NULL DEFAULT 'internal'::character varying"
    ),
    "enterprise.company_mapping.created_at": TS,
    "enterprise.company_mapping.updated_at": TS,
    "enterprise.enrichment_requests.id": (
        "integer NOT NULL DEFAULT nextval('enterprise.enrichment_requests_id_seq'::regclass)"
    ),
    "enterprise.enrichment_requests.raw_name": "character varying(255) NOT NULL",
    "enterprise.enrichment_requests.normalized_name": "character varying(255) NOT NULL",
    "enterprise.enrichment_requests.temp_id": "character varying(50) NULL",
    "enterprise.enrichment_requests.status": (
        "character varying(20) NOT NULL DEFAULT 'pending'::character varying"
    ),
    "enterprise.enrichment_requests.attempts": "integer NOT NULL DEFAULT 0",
    "enterprise.enrichment_requests.last_error": "text NULL",
    "enterprise.enrichment_requests.resolved_company_id": "character varying(100) NULL",
    "enterprise.enrichment_requests.created_at": TS,
    "enterprise.enrichment_requests.updated_at": TS,
}

EXPECTED_CONSTRAINTS = {
    "enterprise.company_master.company_master_pkey": "PRIMARY KEY (company_id)",
    "enterprise.company_master.company_master_unified_credit_code_key": (
        "UNIQUE (unified_credit_code)"
    ),
    "enterprise.company_mapping.company_mapping_pkey": "PRIMARY KEY (id)",
    "enterprise.company_mapping.company_mapping_alias_name_match_type_key": (
        "UNIQUE (alias_name, match_type)"
    ),
    "enterprise.company_mapping.company_mapping_match_type_check": (
        "CHECK (((match_type)::text = ANY ((ARRAY['plan'::character varying, "
        "'account'::character varying, 'hardcode'::character varying, "
        "'name'::character varying, 'account_name'::character varying])::text[])))"
    ),
    "enterprise.company_mapping.company_mapping_priority_check": (
        "CHECK (((priority >= 1) AND (priority <= 5)))"
    ),
    "enterprise.enrichment_requests.enrichment_requests_pkey": "PRIMARY KEY (id)",
    "enterprise.enrichment_requests.enrichment_requests_status_check": (
        "CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, "
        "'processing'::character varying, 'done'::character varying, "
        "'failed'::character varying])::text[])))"
    ),
}

EXPECTED_INDEXES = {
    "enterprise.idx_company_mapping_lookup": (
        "CREATE INDEX idx_company_mapping_lookup ON enterprise.company_mapping "
        "USING btree (alias_name, priority)"
    ),
    "enterprise.idx_enrichment_requests_status": (
        "CREATE INDEX idx_enrichment_requests_status ON enterprise.enrichment_requests "
        "USING btree (status, created_at)"
    ),
    "enterprise.idx_enrichment_requests_normalized": (
        "CREATE UNIQUE INDEX idx_enrichment_requests_normalized ON "
        "enterprise.enrichment_requests USING btree (normalized_name) WHERE "
        "((status)::text = ANY ((ARRAY['pending'::character varying, "
        "'processing'::character varying])::text[]))"
    ),
}


def _entries(url: str, kind: str) -> dict[str, str]:
    return {e.name: e.definition for e in catalog(url, without=("wdh",)) if e.kind == kind}


def test_up_creates_every_column_with_type_nullability_and_default(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db, to=1)
    assert _entries(empty_db_url, "column") == EXPECTED_COLUMNS


def test_up_creates_the_constraints_and_indexes(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=1)
    constraints = _entries(empty_db_url, "constraint")
    # NOT NULL constraints appear in pg_constraint on PostgreSQL 18+; the
    # columns test covers nullability, so compare the named constraints.
    assert {k: v for k, v in constraints.items() if not v.startswith("NOT NULL")} == (
        EXPECTED_CONSTRAINTS
    )
    indexes = _entries(empty_db_url, "index")
    for name, definition in EXPECTED_INDEXES.items():
        assert indexes[name] == definition
    # The remaining indexes are the ones behind the primary and unique keys.
    assert set(indexes) - set(EXPECTED_INDEXES) == {
        "enterprise.company_master_pkey",
        "enterprise.company_master_unified_credit_code_key",
        "enterprise.company_mapping_pkey",
        "enterprise.company_mapping_alias_name_match_type_key",
        "enterprise.enrichment_requests_pkey",
    }


def test_constraints_enforce_the_contract(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=1)
    insert = (
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "VALUES (%s, %s, %s, %s)"
    )
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(insert, ("P001", "C1", "plan", 1))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("P002", "C1", "nickname", 1))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("P003", "C1", "plan", 6))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("P001", "C2", "plan", 1))
        conn.execute(insert, ("P001", "C2", "hardcode", 3))  # same alias, other level

        queue = "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, status) "
        conn.execute(
            queue + "VALUES ('a', 'a', 'done'), ('a', 'a', 'failed'), ('a', 'a', 'pending')"
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(queue + "VALUES ('a', 'a', 'processing')")
        row = conn.execute(
            "SELECT status, attempts FROM enterprise.enrichment_requests WHERE status = 'pending'"
        ).fetchone()
        assert row == ("pending", 0)


def test_down_removes_everything_and_the_round_trip_restores_the_catalog(
    empty_db: Database, empty_db_url: str
) -> None:
    before = catalog(empty_db_url, without=("wdh",))
    runner.up(empty_db, to=1)
    after_first_up = catalog(empty_db_url, without=("wdh",))
    assert any(e.name == "enterprise" for e in after_first_up)

    runner.down(empty_db)
    after_down = catalog(empty_db_url, without=("wdh",))
    assert after_down == before
    assert not any(e.name.startswith("enterprise") for e in after_down)

    runner.up(empty_db, to=1)
    assert catalog(empty_db_url, without=("wdh",)) == after_first_up


def test_down_keeps_a_schema_that_holds_someone_elses_foreign_table(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db, to=1)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE FOREIGN DATA WRAPPER test_fdw")
        conn.execute("CREATE SERVER test_server FOREIGN DATA WRAPPER test_fdw")
        conn.execute("CREATE FOREIGN TABLE enterprise.their_table (x integer) SERVER test_server")

    runner.down(empty_db)

    relations = _entries(empty_db_url, "relation")
    assert relations == {"enterprise.their_table": "foreign table"}
    assert "enterprise" in _entries(empty_db_url, "schema")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'enterprise' AND table_name = 'their_table'"
        ).fetchall()
    assert columns == [("x",)]


def test_running_the_up_sql_twice_is_harmless(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(UP)
        once = catalog(empty_db_url)
        conn.execute(UP)
    assert catalog(empty_db_url) == once


def test_running_the_down_sql_twice_is_harmless(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        before = catalog(empty_db_url)
        conn.execute(UP)
        conn.execute(DOWN)
        conn.execute(DOWN)
    assert catalog(empty_db_url) == before
