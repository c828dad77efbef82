"""Shared fixtures: a real PostgreSQL server and a fresh database per test.

The server is `WDH_TEST_DATABASE_URL` when set (e.g. the machine's
postgresql://root@127.0.0.1:5432/postgres), otherwise an embedded pgserver
started for the session. Databases come from pytest-postgresql's
DatabaseJanitor: `db_url` clones a template migrated once per session,
`empty_db_url` is a blank database for migration tests.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from tests.helpers import embedded_home
from wdh_cli.config import load_settings
from wdh_cli.db import Database, embedded
from wdh_cli.migrate import runner

_counter = itertools.count()


@dataclass(frozen=True)
class Server:
    """Where the test server is, and how to build a URL for one of its databases."""

    base_conninfo: str
    host: str
    port: int
    user: str
    password: str | None

    def url(self, dbname: str) -> str:
        return make_conninfo(self.base_conninfo, dbname=dbname)

    def janitor(self, dbname: str, *, template: str | None = None) -> DatabaseJanitor:
        return DatabaseJanitor(
            user=self.user,
            host=self.host,
            port=self.port,
            password=self.password,
            dbname=dbname,
            template_dbname=template,
        )


def _server_from(conninfo: str) -> Server:
    params = conninfo_to_dict(conninfo)
    return Server(
        base_conninfo=conninfo,
        host=str(params.get("host") or "localhost"),
        port=int(params.get("port") or 5432),
        user=str(params.get("user") or os.environ.get("USER", "postgres")),
        password=str(params["password"]) if params.get("password") else None,
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    configured = os.environ.get("WDH_TEST_DATABASE_URL")
    if configured:
        yield _server_from(configured)
        return
    home = embedded_home()
    try:
        yield _server_from(embedded.ensure_running(home))
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def database_for(url: str) -> Database:
    return Database(load_settings(database_url=url), purpose="pytest")


@pytest.fixture(scope="session")
def migrated_template(pg_server: Server) -> Iterator[str]:
    """A database migrated to the latest version once; tests get clones of it."""
    name = f"wdh_tpl_{os.getpid()}"
    janitor = pg_server.janitor(name)
    janitor.drop()
    janitor.init()
    runner.up(database_for(pg_server.url(name)))
    yield name
    janitor.drop()


def _fresh_database(pg_server: Server, template: str | None) -> Iterator[str]:
    name = f"wdh_test_{os.getpid()}_{next(_counter)}"
    with pg_server.janitor(name, template=template):
        yield pg_server.url(name)


@pytest.fixture
def db_url(pg_server: Server, migrated_template: str) -> Iterator[str]:
    """URL of a new database with every migration applied."""
    yield from _fresh_database(pg_server, migrated_template)


@pytest.fixture
def empty_db_url(pg_server: Server) -> Iterator[str]:
    """URL of a new, empty database."""
    yield from _fresh_database(pg_server, None)


@pytest.fixture
def db(db_url: str) -> Database:
    return database_for(db_url)


@pytest.fixture
def empty_db(empty_db_url: str) -> Database:
    return database_for(empty_db_url)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WDH_* variable or .env file of the developer's leaks into a test."""
    for key in list(os.environ):
        if key.startswith("WDH_") and key != "WDH_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("WDH_HOME", str(tmp_path / "wdh-home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def migrations_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of migration 0001 alone, which the runner reads instead of sql/migrations.

    Runner tests build on it, so later migrations do not change their story.
    """
    from wdh_cli.migrate import files

    target = tmp_path / "migrations"
    target.mkdir()
    for entry in files.migrations_dir().iterdir():
        if entry.name.startswith("0001_"):
            (target / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(files, "migrations_dir", lambda: target)
    return target
