"""Progress bars of the installed wdh: on a terminal (a pseudo-terminal as stderr) they are
drawn; piped, or with --json, nothing progress-like reaches stderr."""

from __future__ import annotations

import csv
import os
import pty
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.helpers import DIRECTORY, WDH, request, run_wdh, wdh_env

pytestmark = pytest.mark.e2e

BAR = "━"  # rich's bar


def _env(db_url: str) -> dict[str, str]:
    return wdh_env(
        WDH_DATABASE_URL=db_url,
        WDH_ALIAS_SALT="pepper",
        WDH_DIRECTORY_PATH=str(DIRECTORY),
        TERM="xterm-256color",
    )


def _on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """(exit code, stdout, what reached stderr) with stderr a pseudo-terminal."""
    main, side = pty.openpty()
    try:
        process = subprocess.Popen(
            [WDH, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=side, env=env
        )
    finally:
        os.close(side)
    chunks = []
    while True:
        try:
            data = os.read(main, 1 << 16)
        except OSError:  # the other side is closed: the process is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=120), stdout, b"".join(chunks).decode(errors="replace")


def _mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mappings.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["alias_name", "canonical_id", "match_type"])
        writer.writerows((f"公司{i}有限公司", f"{600000000 + i}", "name") for i in range(30_000))
    return path


def _commands(db_url: str, tmp_path: Path) -> dict[str, list[str]]:
    """Each command with a bar, with work for it to do; description -> arguments."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for number in range(300):
            request(conn, f"待定公司{number}")
        conn.execute("CREATE TABLE fix (company_id text, company_id_source text)")
        conn.execute(
            "INSERT INTO fix SELECT 'IN' || lpad(n::text, 16, '0'), 'temp' "
            "FROM generate_series(1, 20000) AS n"
        )
    enqueued = run_wdh("queue", "enqueue", "浦发集团", "无此公司", env=_env(db_url))
    assert enqueued.returncode == 0, enqueued.stderr
    return {
        "loading": ["mappings", "load", str(_mapping_file(tmp_path))],
        "exporting": ["review", "export", str(tmp_path / "review.xlsx")],
        "draining": ["queue", "drain", "--provider", "directory"],
        "rewriting": ["rewrite", "--table", "fix", "--batch", "1000"],
    }


def test_piped_stderr_gets_nothing_progress_like(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url)
    for description, args in _commands(db_url, tmp_path).items():
        for extra in ([], ["--json"]):
            result = run_wdh(*args, *extra, env=env)
            assert result.returncode == 0, result.stderr
            assert result.stderr == "", (description, extra, result.stderr)
            assert description not in result.stdout and "\r" not in result.stdout


def test_a_terminal_gets_a_bar_but_not_under_json(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url)
    for description, args in _commands(db_url, tmp_path).items():
        code, stdout, stderr = _on_a_terminal(*args, env=env)
        assert code == 0, stderr
        assert description in stderr and BAR in stderr, (description, stderr)
        assert description not in stdout and "\r" not in stdout  # nor the data
        if description == "loading":
            assert "MB" in stderr  # bytes of the file
        code, stdout, stderr = _on_a_terminal(*args, "--json", env=env)
        assert code == 0, stderr
        assert stderr == "", (description, stderr)
        assert stdout.startswith("{")


def test_a_dumb_terminal_gets_no_bar(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url) | {"TERM": "dumb"}
    code, _, stderr = _on_a_terminal("mappings", "load", str(_mapping_file(tmp_path)), env=env)
    assert code == 0, stderr
    assert stderr == ""
