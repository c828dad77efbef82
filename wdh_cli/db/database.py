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
from wdh_cli.db.urls import mask_url
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
            return DatabaseTarget("url", mask_url(self.settings.database_url.get_secret_value()))
        return DatabaseTarget(
            "embedded", f"embedded PostgreSQL in {embedded.pgdata_dir(self.settings.home)}"
        )

    @property
    def conninfo(self) -> str:
        """The real connection string; starts the embedded server if needed."""
        if self._conninfo is None:
            if self.settings.database_url is not None:
                self._conninfo = self.settings.database_url.get_secret_value()
            else:
                self._conninfo = embedded.ensure_running(self.settings.home)
        return self._conninfo

    def _connect_kwargs(self) -> dict[str, str | int]:
        return {
            "application_name": application_name(self.purpose),
            "connect_timeout": self.settings.connect_timeout,
        }

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection, closed on exit; psycopg errors leave as wdh errors."""
        try:
            conn = psycopg.connect(
                self.conninfo,
                autocommit=autocommit,
                application_name=application_name(self.purpose),
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
    def pool(self, *, min_size: int = 1) -> Iterator[ConnectionPool]:
        """A pool of up to WDH_POOL_MAX connections for commands that work in parallel."""
        pool = ConnectionPool(
            self.conninfo,
            min_size=min(min_size, self.settings.pool_max),
            max_size=self.settings.pool_max,
            kwargs=self._connect_kwargs(),
            open=False,
            name="wdh",
        )
        try:
            pool.open(wait=True, timeout=float(self.settings.connect_timeout))
        except PoolTimeout as exc:
            pool.close()
            raise DatabaseUnavailable(
                f"cannot reach the database {self.target.display}: "
                f"no connection within {self.settings.connect_timeout} s"
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
