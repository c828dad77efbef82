"""The session-level advisory lock that serializes migration runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from wdh_cli.errors import LockTimeout
from wdh_cli.migrate import history
from wdh_cli.migrate.history import LockHolder

POLL_SECONDS = 0.2


@contextmanager
def migration_lock(
    conn: psycopg.Connection,
    *,
    timeout: float,
    on_wait: Callable[[LockHolder | None], None] | None = None,
) -> Iterator[None]:
    """Hold the migration lock for the block, polling up to `timeout` seconds.

    `conn` must be in autocommit mode: polling inside a transaction would pin
    a snapshot, and the lock must not depend on any one transaction.
    """
    if not conn.autocommit:
        raise ValueError("the migration lock needs an autocommit connection")
    deadline = time.monotonic() + timeout
    announced = False
    while not history.try_lock(conn):
        holder = history.lock_holder(conn)
        if time.monotonic() >= deadline:
            who = holder.describe() if holder else "another session (it has just released it)"
            raise LockTimeout(
                f"another migration run holds the lock: {who}; gave up after {timeout:g} s "
                "(--lock-timeout)"
            )
        if not announced and on_wait is not None:
            on_wait(holder)
            announced = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            history.unlock(conn)
