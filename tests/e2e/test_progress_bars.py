"""Progress bars of the installed wdh: on a terminal (a pseudo-terminal as stderr) they are
drawn; piped, or with --json, nothing progress-like reaches stderr. Every command with a
bar draws it the same way (wdh_cli/cli/progress.py)."""

from __future__ import annotations

import csv
import os
import pty
import subprocess
from pathlib import Path

import psycopg
import pytest
import xlsxwriter

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


def _resolve_inputs(db_url: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """The same rows as an xlsx, a CSV and a table: (xlsx, csv, table)."""
    rows = [(f"客户{i % 700}有限公司", f"P{i % 13}") for i in range(3_000)]
    book = xlsxwriter.Workbook(str(tmp_path / "rows.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["客户名称", "计划代码"])
    for number, row in enumerate(rows, start=1):
        sheet.write_row(number, 0, row)
    book.close()
    with (tmp_path / "rows.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("客户名称", "计划代码"), *rows])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE rows ("客户名称" text, "计划代码" text)')
        with conn.cursor().copy("COPY rows FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return tmp_path / "rows.xlsx", tmp_path / "rows.csv", "rows"


def _commands(db_url: str, tmp_path: Path) -> list[tuple[str, list[str], str]]:
    """Each command with a bar, with work for it to do: (description, arguments, the message
    it leaves on stderr without --json)."""
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
    xlsx, csv_file, table = _resolve_inputs(db_url, tmp_path)
    return [
        ("loading", ["mappings", "load", str(_mapping_file(tmp_path))], ""),
        ("exporting", ["review", "export", str(tmp_path / "review.xlsx")], ""),
        ("draining", ["queue", "drain", "--provider", "directory"], ""),
        ("rewriting", ["rewrite", "--table", "fix", "--batch", "1000"], ""),
        ("resolving", ["resolve", str(xlsx)], f"wrote {tmp_path / 'rows.resolved.xlsx'}\n"),
        ("resolving", ["resolve", str(csv_file)], f"wrote {tmp_path / 'rows.resolved.csv'}\n"),
        ("resolving", ["resolve", "--table", table, "--add-columns", "--batch", "500"], ""),
    ]


def test_piped_stderr_gets_nothing_progress_like(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url)
    for description, args, message in _commands(db_url, tmp_path):
        for extra, left in (([], message), (["--json"], "")):
            result = run_wdh(*args, *extra, env=env)
            assert result.returncode == 0, result.stderr
            assert result.stderr == left, (description, extra, result.stderr)
            assert description not in result.stdout and "\r" not in result.stdout


def test_a_terminal_gets_a_bar_but_not_under_json(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url)
    for description, args, _ in _commands(db_url, tmp_path):
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
    xlsx, _, table = _resolve_inputs(db_url, tmp_path)
    code, _, stderr = _on_a_terminal("resolve", str(xlsx), env=env)
    assert code == 0, stderr
    assert stderr == f"wrote {tmp_path / 'rows.resolved.xlsx'}\r\n"  # a terminal's line end
    code, _, stderr = _on_a_terminal("resolve", "--table", table, "--add-columns", env=env)
    assert code == 0, stderr
    assert stderr == ""


def test_a_plan_only_resolve_counts_nothing_and_draws_no_bar(db_url: str, tmp_path: Path) -> None:
    # Like rewrite --dry-run: the rows it would write are not written, so not counted.
    xlsx, csv_file, table = _resolve_inputs(db_url, tmp_path)
    for args in (["resolve", str(xlsx)], ["resolve", str(csv_file)], ["resolve", "--table", table]):
        code, stdout, stderr = _on_a_terminal(*args, "--plan-only", env=_env(db_url))
        assert code == 0, stderr
        assert stderr == "", (args, stderr)
        assert "plan only" in stdout
