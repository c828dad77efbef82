"""Small helpers shared by the test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from wdh_cli.migrate.catalog import CatalogEntry, snapshot
from wdh_cli.migrate.files import discover

ALL_VERSIONS = [m.version for m in discover()]

WDH = str(Path(sys.executable).parent / "wdh")


def catalog(url: str, *, without: tuple[str, ...] = ()) -> list[CatalogEntry]:
    """Snapshot of every non-system schema, minus the `without` schemas."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [e for e in snapshot(conn) if e.name.split(".")[0] not in without]


def wdh_env(**extra: str) -> dict[str, str]:
    """Environment for a `wdh` subprocess: this one without WDH_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WDH_")}
    env.update(extra)
    return env


def run_wdh(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WDH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
