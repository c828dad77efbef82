"""Migration 0006: the sequential counter is raised past the TEMP_ IDs the queue holds."""

from __future__ import annotations

import psycopg

from tests.helpers import catalog
from wdh_cli.db import Database
from wdh_cli.migrate import runner
from wdh_cli.tempids import repository


def _lagging(url: str, *, counter: int, issued: list[str]) -> None:
    """A counter behind the queue, as 0002's first released text left it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE enterprise.temp_id_sequence SET last_number = %s", (counter,))
        for number, temp_id in enumerate(issued):
            conn.execute(
                "INSERT INTO enterprise.enrichment_requests "
                "(raw_name, normalized_name, temp_id, status) VALUES (%s, %s, %s, 'failed')",
                (f"公司{number}", f"公司{number}", temp_id),
            )


def _counter(url: str) -> list[tuple[int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT last_number FROM enterprise.temp_id_sequence").fetchall()


def test_a_lagging_counter_is_raised_and_the_next_block_follows(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db, to=5)
    issued = ["TEMP_000057", "TEMP_000012", "temp_000099", "TEMP_" + "9" * 19, "INABCDEFGH"]
    _lagging(empty_db_url, counter=3, issued=issued)
    runner.up(empty_db)
    assert _counter(empty_db_url) == [(57,)]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert repository.reserve_block(conn, 2) == range(58, 60)


def test_a_counter_ahead_of_the_queue_is_kept_and_nothing_is_created(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db, to=5)
    _lagging(empty_db_url, counter=100, issued=["TEMP_000057"])
    before = catalog(empty_db_url, without=("wdh",))
    runner.up(empty_db)
    assert _counter(empty_db_url) == [(100,)]
    assert catalog(empty_db_url, without=("wdh",)) == before


def test_down_keeps_the_counter_and_up_again_changes_nothing(
    empty_db: Database, empty_db_url: str
) -> None:
    runner.up(empty_db, to=5)
    _lagging(empty_db_url, counter=0, issued=["TEMP_000057"])
    runner.up(empty_db, to=6)
    assert [step.version for step in runner.down(empty_db).done] == [6]
    assert _counter(empty_db_url) == [(57,)]
    runner.up(empty_db)
    assert _counter(empty_db_url) == [(57,)]
