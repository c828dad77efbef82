"""Small helpers shared by the test tiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner, Result

from wdh_cli.cli.app import app
from wdh_cli.ledger import repository as ledger
from wdh_cli.ledger.answers import answer_of
from wdh_cli.migrate.catalog import CatalogEntry, snapshot
from wdh_cli.migrate.files import discover
from wdh_cli.names import normalize_name
from wdh_cli.providers.base import Candidate

ALL_VERSIONS = [m.version for m in discover()]

WDH = str(Path(sys.executable).parent / "wdh")

DIRECTORY = Path(__file__).parents[1] / "examples" / "directory.csv"
"""The offline directory of examples/ (the `directory` provider's CSV)."""

CLI_ENV = {"WDH_ALIAS_SALT": "pepper", "WDH_DIRECTORY_PATH": str(DIRECTORY)}
"""The settings `invoke_wdh` gives a command unless told others."""


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


def invoke_wdh(cli: CliRunner, db_url: str, *args: str, env: Mapping[str, str] = CLI_ENV) -> Result:
    """`wdh --db DB_URL ARGS` in this process (the CLI tier), with the settings `env`."""
    return cli.invoke(app, ["--db", db_url, *args], env=dict(env))


def invoke_resolve(
    cli: CliRunner, db_url: str, path: Path, env: Mapping[str, str], *args: str
) -> Result:
    """`wdh --db DB_URL resolve PATH --json ARGS` in this process, with the settings `env`."""
    return invoke_wdh(cli, db_url, "resolve", str(path), "--json", *args, env=env)


def invoke_wdh_json(
    cli: CliRunner, db_url: str, *args: str, env: Mapping[str, str] = CLI_ENV
) -> dict[str, Any]:
    """`invoke_wdh` with `--json`, which must exit 0; its JSON."""
    result = invoke_wdh(cli, db_url, *args, "--json", env=env)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def one_line_error(
    result: Result | subprocess.CompletedProcess[str], code: int, *needles: str
) -> str:
    """The one line of an error on stderr (exit `code`, nothing on stdout, no traceback).

    Holds each of `needles`. Works for `invoke_wdh` and `run_wdh` results alike.
    """
    exit_code = result.exit_code if isinstance(result, Result) else result.returncode
    assert exit_code == code, (exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def wait_until(check: Callable[[], bool], what: str, *, timeout: float = 60) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.02)


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
