"""The built wheel carries the SQL: installed in a fresh venv, run from another directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wdh_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_installed_wheel_runs_migrate_status_from_elsewhere(
    tmp_path: Path, empty_db_url: str
) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("wdh_cli-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = subprocess.run(
        [str(venv / "bin" / "wdh"), "migrate", "status", "--json"],
        env=wdh_env(WDH_DATABASE_URL=empty_db_url),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert '"state": "pending"' in result.stdout
    assert '"description": "create_enterprise_schema"' in result.stdout
    # The SQL came from the installed package, not from this checkout.
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert (
        site / "wdh_cli" / "sql" / "migrations" / "0001_create_enterprise_schema.up.sql"
    ).is_file()
