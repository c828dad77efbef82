"""Foundation figures: embedded server start/attach, connect, migrate up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import Figure, median_seconds, scratch_database
from wdh_cli.config import load_settings
from wdh_cli.db import Database, embedded
from wdh_cli.migrate import runner

WDH = str(Path(sys.executable).parent / "wdh")


def _wdh(*args: str, env: dict[str, str]) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
    subprocess.run([WDH, *args], env=clean | env, capture_output=True, check=False)


def run(base_url: str) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="wdh-bench-home-") as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        embedded.ensure_running(home)
        first = time.perf_counter() - start
        embedded.stop(home)
        start = time.perf_counter()
        embedded.ensure_running(home)
        restart = time.perf_counter() - start
        # A whole command on the running embedded server, against the same
        # command given the server's URL: the difference is the attach cost.
        url = embedded.ensure_running(home)
        runner.up(Database(load_settings(database_url=url)))
        on_embedded = median_seconds(
            lambda: _wdh("migrate", "status", env={"WDH_HOME": str(home)}), repeat=5
        )
        on_url = median_seconds(
            lambda: _wdh("migrate", "status", env={"WDH_DATABASE_URL": url}), repeat=5
        )
        embedded.stop(home)
    figures += [
        Figure("db", "embedded start, new data dir", first * 1000, "ms", "floor", 530.0),
        Figure("db", "embedded start, existing data dir", restart * 1000, "ms", "floor", 120.0),
        Figure(
            "db",
            "wdh migrate status, embedded (attach)",
            on_embedded * 1000,
            "ms",
            "same with --db URL",
            on_url * 1000,
        ),
    ]

    def connect_select() -> None:
        with psycopg.connect(base_url) as conn:
            conn.execute("SELECT 1")

    bare = median_seconds(connect_select, repeat=20)
    db = Database(load_settings(database_url=base_url))

    def wdh_connect_select() -> None:
        with db.connect() as conn:
            conn.execute("SELECT 1")

    ours = median_seconds(wdh_connect_select, repeat=20)
    figures.append(
        Figure("db", "Database.connect + SELECT 1", ours * 1000, "ms", "bare psycopg", bare * 1000)
    )

    with scratch_database(base_url, "wdh_bench_migrate") as url:
        target = Database(load_settings(database_url=url))
        start = time.perf_counter()
        runner.up(target)
        up = time.perf_counter() - start
    figures.append(Figure("db", "migrate up (all migrations)", up * 1000, "ms"))
    return figures
