"""Migration 0002: the counter of sequential temporary IDs, and block reservation."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.migrate import runner
from wdh_cli.tempids import repository
from wdh_cli.tempids.generator import TempIdGenerator
from wdh_cli.tempids.issuer import TempIdIssuer

UP = read_sql("migrations", "0002_create_temp_id_sequence.up.sql")


def _objects(url: str) -> dict[tuple[str, str], str]:
    return {
        (e.kind, e.name): e.definition
        for e in catalog(url, without=("wdh",))
        if "temp_id_sequence" in e.name
    }


def test_up_creates_the_single_row_counter(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=2)
    assert _objects(empty_db_url) == {
        ("relation", "enterprise.temp_id_sequence"): "table",
        ("column", "enterprise.temp_id_sequence.last_number"): "bigint NOT NULL DEFAULT 0",
        ("column", "enterprise.temp_id_sequence.updated_at"): (
            "timestamp with time zone NOT NULL DEFAULT now()"
        ),
        ("constraint", "enterprise.temp_id_sequence.temp_id_sequence_last_number_check"): (
            "CHECK ((last_number >= 0))"
        ),
        ("index", "enterprise.temp_id_sequence_one_row"): (
            "CREATE UNIQUE INDEX temp_id_sequence_one_row ON enterprise.temp_id_sequence "
            "USING btree ((true))"
        ),
    }
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchall() == [
            (0,)
        ]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO enterprise.temp_id_sequence DEFAULT VALUES")


def test_round_trip_and_idempotence(empty_db: Database, empty_db_url: str) -> None:
    runner.up(empty_db, to=1)
    before = catalog(empty_db_url, without=("wdh",))
    runner.up(empty_db, to=2)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        applied = catalog(empty_db_url, without=("wdh",))
        conn.execute(UP)  # twice is harmless: still one row, same objects
        assert catalog(empty_db_url, without=("wdh",)) == applied
        assert conn.execute("SELECT count(*) FROM enterprise.temp_id_sequence").fetchone() == (1,)
    runner.down(empty_db, to=1)
    assert catalog(empty_db_url, without=("wdh",)) == before
    runner.up(empty_db, to=2)
    assert catalog(empty_db_url, without=("wdh",)) == applied


def test_blocks_are_consecutive_and_disjoint(conn: psycopg.Connection) -> None:
    assert repository.reserve_block(conn, 3) == range(1, 4)
    assert repository.reserve_block(conn, 2) == range(4, 6)


def test_sequence_style_keeps_queued_ids_and_reserves_one_block(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id, status) "
        "VALUES ('甲公司', '甲公司', 'TEMP_000042', 'done')"
    )
    ids = TempIdIssuer("sequence").issue(["乙公司", "甲公司", "丙公司", "乙公司", ""], conn)
    assert ids == {"甲公司": "TEMP_000042", "丙公司": "TEMP_000001", "乙公司": "TEMP_000002"}
    row = conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchone()
    assert row == (2,)


def test_hmac_style_needs_no_database() -> None:
    ids = TempIdIssuer("hmac", TempIdGenerator("s")).issue(["甲公司", "甲公司"])
    assert list(ids) == ["甲公司"] and ids["甲公司"].startswith("IN")
