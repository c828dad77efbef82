"""Small helpers shared by the test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import answer_of
from wdh_cli.migrate.catalog import CatalogEntry, snapshot
from wdh_cli.migrate.files import discover
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate

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


# Queue requests and provider answers as a drain leaves them (review tests).

A = Candidate("000123", "青岛海滨物流有限公司", "91370200MA3C1234X1", "fuzzy", 0.72)
B = Candidate("614810477", "上海浦东发展集团有限公司", "91310000132200821H", "fuzzy", 0.55)
C = Candidate("608349737", "中国平安人寿保险股份有限公司", None, "fuzzy", 0.31)


def request(
    conn: psycopg.Connection,
    name: str,
    *,
    status: str = "failed",
    rows_seen: int = 0,
    error: str | None = "no match",
) -> int:
    """A queue request as a drain leaves it; returns its id."""
    row = conn.execute(
        "INSERT INTO enterprise.enrichment_requests "
        "(raw_name, normalized_name, temp_id, status, rows_seen, last_error) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            name,
            normalize_name(name),
            f"IN{abs(hash(name)) % 10**16:016d}",
            status,
            rows_seen,
            error,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def candidates(conn: psycopg.Connection, name: str, *found: Candidate) -> None:
    """The ledger's answer for a name: candidates below the bar, best first."""
    ledger.remember(conn, "eqc", [answer_of("eqc", normalize_name(name), list(found), 0.99)])


def embedded_home() -> Path:
    """A home for an embedded server, outside pytest's temporary tree.

    As root, pgserver runs the server as the `pgserver` user, which needs to
    traverse every parent of the data directory; any pytest session that
    starts meanwhile makes /tmp/pytest-of-<user> private again (0700), and a
    server living under it would lose its data directory mid-run.
    """
    return Path(tempfile.mkdtemp(prefix="wdh-test-pg-"))
