"""Two `wdh migrate up` processes at once, and a run that times out on the lock."""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest

from tests.helpers import ALL_VERSIONS, WDH, run_wdh, wdh_env
from wdh_cli.migrate.history import LOCK_CLASS_ID, MIGRATION_LOCK_ID

pytestmark = pytest.mark.e2e


def _hold_lock(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True, application_name="pytest-lock-holder")
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS_ID, MIGRATION_LOCK_ID))
    return conn


def _waiting_runs(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'wdh migrate up%%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_waiting_run_times_out_naming_the_holder(empty_db_url: str) -> None:
    holder = _hold_lock(empty_db_url)
    try:
        holder_pid = holder.info.backend_pid
        result = run_wdh(
            "migrate", "up", "--lock-timeout", "1", env=wdh_env(WDH_DATABASE_URL=empty_db_url)
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert "another migration run holds the lock" in result.stderr
    assert f"server pid {holder_pid} (pytest-lock-holder" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_runs_at_once_apply_each_migration_exactly_once(empty_db_url: str) -> None:
    env = wdh_env(WDH_DATABASE_URL=empty_db_url)
    holder = _hold_lock(empty_db_url)
    try:
        runs = [
            subprocess.Popen(
                [WDH, "migrate", "up", "--lock-timeout", "60"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 30
        while _waiting_runs(empty_db_url) < 2:
            assert time.monotonic() < deadline, "both runs should be waiting for the lock"
            time.sleep(0.1)
    finally:
        holder.close()  # releases the lock: now the two runs race for it
    outcomes = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    stderrs = [stderr for _, stderr in outcomes]
    assert all("waiting for the migration lock held by" in s for s in stderrs)
    applied = [s for s in stderrs if "applied 0001_create_enterprise_schema.up.sql" in s]
    idle = [s for s in stderrs if "nothing to do" in s]
    assert len(applied) == 1 and len(idle) == 1
    with psycopg.connect(empty_db_url) as conn:
        rows = conn.execute(
            "SELECT version, success FROM wdh.schema_history ORDER BY version"
        ).fetchall()
    assert rows == [(version, True) for version in ALL_VERSIONS]
