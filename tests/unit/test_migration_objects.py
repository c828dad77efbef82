"""Reading which schemas and relations a migration creates and drops (pure)."""

from __future__ import annotations

from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.migrate.objects import DbObject, created, dropped, left_by


def _names(objects: list[DbObject]) -> list[str]:
    return [o.describe() for o in objects]


def test_the_objects_of_0001() -> None:
    sql = read_sql("migrations", "0001_create_enterprise_schema.up.sql")
    assert _names(created(sql)) == [
        "schema enterprise",
        "table enterprise.company_master",
        "table enterprise.company_mapping",
        "index enterprise.idx_company_mapping_lookup",
        "table enterprise.enrichment_requests",
        "index enterprise.idx_enrichment_requests_status",
        "index enterprise.idx_enrichment_requests_normalized",
    ]


def test_the_objects_of_0002_and_0003() -> None:
    assert _names(created(read_sql("migrations", "0002_create_temp_id_sequence.up.sql"))) == [
        "table enterprise.temp_id_sequence",
        "index enterprise.temp_id_sequence_one_row",
    ]
    assert _names(created(read_sql("migrations", "0003_add_queue_claims.up.sql"))) == [
        "index enterprise.idx_enrichment_requests_ready",
        "index enterprise.idx_enrichment_requests_claimed",
    ]


def test_spellings_comments_and_nameless_indexes() -> None:
    sql = """
    -- CREATE TABLE enterprise.in_a_comment (x int);
    create unique index concurrently if not exists Idx_A on only app.things (x);
    CREATE MATERIALIZED VIEW app.summary AS SELECT 1;
    CREATE OR REPLACE VIEW app.v AS SELECT 1;
    CREATE SEQUENCE app.numbers;
    CREATE INDEX ON app.things (y);
    """
    assert _names(created(sql)) == [
        "index app.idx_a",
        "materialized view app.summary",
        "view app.v",
        "sequence app.numbers",
    ]


def test_left_by_removes_what_a_later_migration_drops() -> None:
    first = "CREATE SCHEMA a; CREATE TABLE a.t (x int); CREATE TABLE a.u (x int);"
    second = "DROP TABLE IF EXISTS a.t; CREATE SCHEMA b; CREATE TABLE b.k (x int);"
    third = "DROP SCHEMA b;"
    assert _names(dropped(second)) == ["table a.t"]
    assert _names(left_by([first, second, third])) == ["schema a", "table a.u"]
