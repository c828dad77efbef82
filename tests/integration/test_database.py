"""The Database connection factory: connections, the pool, unreachable servers."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from psycopg.conninfo import make_conninfo

from wdh_cli.config import load_settings
from wdh_cli.db import Database
from wdh_cli.errors import DatabaseError, DatabaseUnavailable


def test_pool_is_sized_by_the_setting_and_names_its_connections(db_url: str) -> None:
    db = Database(load_settings(database_url=db_url, pool_max=3), purpose="pool test")
    with db.pool() as pool:
        assert pool.max_size == 3
        with pool.connection() as first, pool.connection() as second:
            assert first.info.backend_pid != second.info.backend_pid
            row = first.execute("SELECT current_setting('application_name')").fetchone()
            assert row is not None and row[0].startswith("wdh pool test @")


def test_a_pool_of_a_given_size_ignores_the_setting_and_opens_every_connection(
    db_url: str,
) -> None:
    db = Database(load_settings(database_url=db_url, pool_max=2), purpose="sized pool")
    with db.pool(size=4, autocommit=True) as pool:
        assert (pool.min_size, pool.max_size) == (4, 4)
        assert pool.get_stats()["pool_available"] == 4  # opened before it was handed out
        with ExitStack() as stack:
            held = [stack.enter_context(pool.connection(timeout=1)) for _ in range(4)]
            assert len({conn.info.backend_pid for conn in held}) == 4
            assert all(conn.autocommit for conn in held)


def test_pool_on_an_unreachable_server_is_a_clear_error() -> None:
    settings = load_settings(
        database_url="postgresql://u:pw-secret@127.0.0.1:1/x", connect_timeout=1
    )
    with pytest.raises(DatabaseUnavailable) as caught, Database(settings).pool():
        pass
    assert "pw-secret" not in caught.value.message and "***" in caught.value.message


def test_pool_on_a_missing_database_fails_at_once_with_the_reason(db_url: str) -> None:
    settings = load_settings(database_url=make_conninfo(db_url, dbname="no_such_db"))
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="no_such_db"), Database(settings).pool(size=2):
        pass
    assert time.monotonic() - start < settings.connect_timeout  # not the pool's timeout


def test_errors_inside_a_connection_become_wdh_errors(db_url: str) -> None:
    db = Database(load_settings(database_url=db_url))
    with (
        pytest.raises(DatabaseError, match=r"\[42P01\].*`wdh db check`.*`wdh migrate verify`"),
        db.connect() as conn,
    ):
        conn.execute("SELECT * FROM no_such_table")
