"""The installed `wdh` on the embedded server: started once, reused, stopped."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ALL_VERSIONS, embedded_home, run_wdh, wdh_env
from wdh_cli.db import embedded

pytestmark = pytest.mark.e2e


@pytest.fixture
def home() -> Iterator[Path]:
    path = embedded_home() / "home"
    yield path
    embedded.stop(path)
    shutil.rmtree(path.parent, ignore_errors=True)


def test_embedded_server_is_started_reused_and_stopped(home: Path, tmp_path: Path) -> None:
    env = wdh_env(WDH_HOME=str(home))

    up = run_wdh("migrate", "up", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert embedded.is_running(home)
    pid = (home / "pgdata" / "postmaster.pid").read_text().splitlines()[0]

    check = run_wdh("db", "check", "--json", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    data = json.loads(check.stdout)
    assert data["mode"] == "embedded"
    assert data["database"] == f"embedded PostgreSQL in {home / 'pgdata'}"
    assert data["migrations"]["applied"] == len(ALL_VERSIONS)
    assert data["migrations_current"] is True
    # The second command attached to the same server instead of starting one.
    assert (home / "pgdata" / "postmaster.pid").read_text().splitlines()[0] == pid

    stop = run_wdh("db", "stop", env=env, cwd=tmp_path)
    assert stop.returncode == 0
    assert not embedded.is_running(home)

    # A stopped server is started again, with its data kept.
    status = run_wdh("migrate", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "applied" in status.stdout


def test_help_and_version_need_no_database() -> None:
    env = wdh_env(WDH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert run_wdh("--version", env=env).stdout.startswith("wdh ")
    helped = run_wdh("--help", env=env)
    assert helped.returncode == 0
    assert "migrate" in helped.stdout and "db" in helped.stdout
