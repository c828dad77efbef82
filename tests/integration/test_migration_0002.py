"""Migration 0002: the counter of sequential temporary IDs, block reservation, P-030."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import read_sql
from wdh_cli.errors import MigrationError
from wdh_cli.migrate import runner
from wdh_cli.migrate.verify import verify
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


# --- P-030: an older deployment's counter, converted in place -----------------

OLD_FORM = (
    "CREATE TABLE enterprise.temp_id_sequence (id integer PRIMARY KEY, last_value integer NOT NULL)"
)


def _old_deployment(url: str, *, counter: int, issued: list[str]) -> None:
    """0001's schema plus the old-form counter and queued TEMP_ IDs, made by another tool."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(read_sql("migrations", "0001_create_enterprise_schema.up.sql"))
        conn.execute(OLD_FORM)
        conn.execute("INSERT INTO enterprise.temp_id_sequence VALUES (1, %s)", (counter,))
        for number, temp_id in enumerate(issued):
            conn.execute(
                "INSERT INTO enterprise.enrichment_requests "
                "(raw_name, normalized_name, temp_id, status) VALUES (%s, %s, %s, 'done')",
                (f"公司{number}", f"公司{number}", temp_id),
            )


def _counter(url: str) -> list[tuple[int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchall()


def test_old_form_is_converted_and_raised_to_the_largest_issued_id(
    empty_db: Database, empty_db_url: str
) -> None:
    _old_deployment(empty_db_url, counter=41, issued=["TEMP_000057", "TEMP_000012", "IN7XQ"])
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON enterprise.temp_id_sequence TO PUBLIC")
    runner.baseline(empty_db, version=1)
    runner.up(empty_db)

    assert _counter(empty_db_url) == [(57,)]
    assert verify(empty_db) == []  # exactly the current form: columns, check, one-row index
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert repository.reserve_block(conn, 3) == range(58, 61)
        # Converted in place, not replaced: the table's grants are still there.
        granted = conn.execute(
            "SELECT has_table_privilege('public', 'enterprise.temp_id_sequence', 'SELECT')"
        ).fetchone()
        assert granted == (True,)


def test_an_old_counter_ahead_of_the_queue_is_kept(empty_db: Database, empty_db_url: str) -> None:
    _old_deployment(empty_db_url, counter=100, issued=["TEMP_000057"])
    runner.baseline(empty_db, version=1)
    runner.up(empty_db, to=2)
    assert _counter(empty_db_url) == [(100,)]


def test_the_conversion_is_idempotent(empty_db: Database, empty_db_url: str) -> None:
    _old_deployment(empty_db_url, counter=41, issued=["TEMP_000057"])
    runner.baseline(empty_db, version=1)
    runner.up(empty_db, to=2)
    converted = catalog(empty_db_url, without=("wdh",))
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(UP)
        conn.execute(UP)
    assert catalog(empty_db_url, without=("wdh",)) == converted
    assert _counter(empty_db_url) == [(57,)]


def test_the_counter_is_raised_but_never_lowered(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE enterprise.temp_id_sequence SET last_number = 5")
    conn.execute(
        "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id) "
        "VALUES ('a', 'a', 'TEMP_000009'), ('b', 'b', 'TEMP_99999999999999999999999')"
    )
    conn.execute(UP)
    assert conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchall() == [(9,)]
    conn.execute("UPDATE enterprise.temp_id_sequence SET last_number = 70")
    conn.execute(UP)
    assert conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchall() == [(70,)]


def test_a_counter_table_of_unknown_form_stops_the_migration(
    empty_db: Database, empty_db_url: str
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(read_sql("migrations", "0001_create_enterprise_schema.up.sql"))
        conn.execute("CREATE TABLE enterprise.temp_id_sequence (n integer)")
    runner.baseline(empty_db, version=1)
    with pytest.raises(MigrationError, match="neither last_number nor id"):
        runner.up(empty_db)
    assert _counter_columns(empty_db_url) == ["n"]  # rolled back, untouched


def _counter_columns(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute "
            "WHERE attrelid = 'enterprise.temp_id_sequence'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        )
        return [row[0] for row in rows]
