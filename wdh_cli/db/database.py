"""Which database wdh talks to, and connections to it.

`Database` owns the connection details: a configured URL, or the embedded
server started on first use. Callers own transactions: they get a connection
from `connect()` and decide what to commit.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from wdh_cli.config import Settings
from wdh_cli.db import embedded
from wdh_cli.db.errors import translate
from wdh_cli.db.urls import check_url, display_url
from wdh_cli.errors import DatabaseUnavailable


@dataclass(frozen=True)
class DatabaseTarget:
    """What `wdh db check` reports as "which database": never the password."""

    mode: Literal["embedded", "url"]
    display: str


def application_name(purpose: str) -> str:
    """Name shown in pg_stat_activity, so a lock holder can be identified."""
    return f"wdh {purpose} @{socket.gethostname()}:{os.getpid()}"[:63]


class Database:
    """Connection factory for one run of a command."""

    def __init__(self, settings: Settings, *, purpose: str = "cli") -> None:
        self.settings = settings
        self.purpose = purpose
        self._conninfo: str | None = None

    @property
    def target(self) -> DatabaseTarget:
        if self.settings.database_url is not None:
            url = self.settings.database_url.get_secret_value()
            return DatabaseTarget("url", display_url(url))
        return DatabaseTarget(
            "embedded", f"embedded PostgreSQL in {embedded.pgdata_dir(self.settings.home)}"
        )

    @property
    def conninfo(self) -> str:
        """The real connection string; starts the embedded server if needed."""
        if self._conninfo is None:
            if self.settings.database_url is not None:
                url = self.settings.database_url.get_secret_value()
                check_url(url)  # a URL libpq would misread is refused before any message quotes it
                self._conninfo = url
            else:
                self._conninfo = embedded.ensure_running(self.settings.home)
        return self._conninfo

    def _connect_kwargs(self) -> dict[str, str | int]:
        return {
            "application_name": application_name(self.purpose),
            "connect_timeout": self.settings.connect_timeout,
        }

    @contextmanager
    def connect(
        self, *, autocommit: bool = False, purpose: str | None = None
    ) -> Iterator[psycopg.Connection]:
        """A connection, closed on exit; psycopg errors leave as wdh errors.

        `purpose` names this connection apart in pg_stat_activity (default: the run's).
        """
        try:
            conn = psycopg.connect(
                self.conninfo,
                autocommit=autocommit,
                application_name=application_name(purpose or self.purpose),
                connect_timeout=self.settings.connect_timeout,
            )
        except psycopg.Error as exc:
            raise translate(exc, target=self.target.display, purpose=self.purpose) from exc
        user = conn.info.user  # read now: `with conn` closes it before the except runs
        try:
            with conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(
                exc, target=self.target.display, purpose=self.purpose, user=user
            ) from exc

    @contextmanager
    def pool(
        self, *, min_size: int = 1, size: int | None = None, autocommit: bool = False
    ) -> Iterator[ConnectionPool]:
        """A pool for commands that work on several connections at once.

        By default up to WDH_POOL_MAX connections, opened as needed. A command
        that knows how many it needs passes `size`: exactly that many,
        whatever WDH_POOL_MAX says, all opened before the pool is handed out
        (a drain's N workers each hold one for the whole run: fewer would
        leave workers waiting, more would sit idle, and a server that cannot
        give N connections fails here rather than halfway through).
        """
        # The pool retries a failed connection in the background until its
        # timeout and keeps no reason; one direct connection first fails at
        # once with the server's own (refused, bad password, no such database).
        with self.connect(autocommit=True):
            pass
        max_size = self.settings.pool_max if size is None else size
        pool = ConnectionPool(
            self.conninfo,
            min_size=max_size if size is not None else min(min_size, max_size),
            max_size=max_size,
            kwargs={**self._connect_kwargs(), "autocommit": autocommit},
            open=False,
            name="wdh",
        )
        try:
            pool.open(wait=True, timeout=float(self.settings.connect_timeout))
        except PoolTimeout as exc:
            pool.close()
            # One connection worked a moment ago: more likely the server
            # refuses this many than that it went away.
            wanted = (
                "no connection"
                if size is None
                else f"not {size} connections (does the server allow that many?)"
            )
            raise DatabaseUnavailable(
                f"cannot reach the database {self.target.display}: "
                f"{wanted} within {self.settings.connect_timeout} s"
            ) from exc
        try:
            yield pool
        except psycopg.Error as exc:
            raise translate(
                exc, target=self.target.display, purpose=self.purpose, user=self._user()
            ) from exc
        finally:
            pool.close()

    def _user(self) -> str | None:
        """The role the connection string names (for messages), if it names one."""
        user = conninfo_to_dict(self.conninfo).get("user")
        return str(user) if user else None

    def server_version_num(self) -> int:
        """The server's version as an integer, e.g. 160002 for 16.2."""
        with self.connect(autocommit=True) as conn:
            return conn.info.server_version

    def ping(self) -> tuple[str, float]:
        """Server version string and the round-trip time of `SELECT 1` in ms."""
        with self.connect(autocommit=True) as conn:
            start = time.perf_counter()
            conn.execute("SELECT 1")
            latency_ms = (time.perf_counter() - start) * 1000
            version = conn.info.parameter_status("server_version") or "unknown"
        return version, latency_ms
