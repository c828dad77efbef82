"""Hostile runs of the installed `wdh resolve`: signals, a database gone mid-run, deep YAML."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import xlsxwriter

from tests.helpers import WDH, run_wdh, wdh_env
from wdh_cli.tabular.sheet_writer import WRITER_PROCESS_ROWS

pytestmark = pytest.mark.e2e


def _big_csv(path: Path, rows: int = 400_000) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("计划代码,客户名称,规模\n")
        for n in range(rows):
            handle.write(f"P{n % 97},客户{n % 5000}有限公司,{n}\n")
    return path


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_leaves_no_partial_output(
    db_url: str, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    source = _big_csv(tmp_path / "big.csv")
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    child = _resolving(source, env)
    _started(child, tmp_path)
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]  # nothing half-written
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"error: stopped by {sig.name}; nothing was written"], err


def _big_xlsx(path: Path, rows: int = 60_000) -> Path:
    """A sheet large enough to be written by the writer process."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["计划代码", "客户名称", "规模"])
    for n in range(1, rows + 1):
        sheet.write_row(n, 0, [f"P{n % 97}", f"客户{n % 5000}有限公司", n])
    book.close()
    return path


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_the_writer_process_writes_leaves_nothing(
    db_url: str, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    assert WRITER_PROCESS_ROWS <= 60_000
    source = _big_xlsx(tmp_path / "big.xlsx")
    scratch = tmp_path / "scratch"  # where the writer streams its rows (TMPDIR)
    scratch.mkdir()
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    env["TMPDIR"] = str(scratch)
    child = _resolving(source, env)
    deadline = time.monotonic() + 60
    while not list(scratch.iterdir()):  # the writer process has begun streaming rows
        assert child.poll() is None and time.monotonic() < deadline, "no output started"
        time.sleep(0.02)
    writers = _children(child.pid)
    assert writers, "no writer process"
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.xlsx", "scratch"]
    assert list(scratch.iterdir()) == []  # the writer dropped its rows too
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"error: stopped by {sig.name}; nothing was written"], err
    for pid in writers:
        assert not Path(f"/proc/{pid}").exists(), "the writer process outlived wdh"


def _resolving(source: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The installed `wdh resolve SOURCE`, running, its output and errors kept."""
    return subprocess.Popen(
        [WDH, "resolve", str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output_files(pid: int, folder: Path) -> list[str]:
    """The files process `pid` has open in `folder` (an output without a name shows as
    `#<inode> (deleted)`: it gets its name only when complete)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(folder)) and not target.endswith((".csv", ".xlsx")):
                found.append(target)
    return found


def _started(child: subprocess.Popen[str], folder: Path) -> None:
    """Wait until the run has opened its output (unnamed until the run succeeds)."""
    deadline = time.monotonic() + 60
    while not _output_files(child.pid, folder):
        assert child.poll() is None and time.monotonic() < deadline, "no output started"
        time.sleep(0.01)


def test_sigkill_mid_run_leaves_no_file_behind(db_url: str, tmp_path: Path) -> None:
    """wdh killed outright (no handler runs): its unnamed output vanishes with it."""
    source = _big_csv(tmp_path / "big.csv")
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    child = _resolving(source, env)
    _started(child, tmp_path)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def test_a_run_stopped_and_continued_again_and_again_writes_the_same_file(
    db_url: str, tmp_path: Path
) -> None:
    """Ctrl-Z and fg (or a debugger) cut reads and writes between the processes short."""
    source = _big_csv(tmp_path / "big.csv")
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    calm = run_wdh("resolve", str(source), "--output", str(tmp_path / "calm.csv"), env=env)
    assert calm.returncode == 0, calm.stderr
    child = _resolving(source, env)
    _started(child, tmp_path)
    while child.poll() is None:
        processes = [child.pid, *_children(child.pid)]
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        time.sleep(0.01)
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        time.sleep(0.03)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    resolved = (tmp_path / "big.resolved.csv").read_bytes()
    assert resolved == (tmp_path / "calm.csv").read_bytes()


def test_require_db_holds_for_the_whole_run(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n", encoding="utf-8")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA enterprise CASCADE")  # connected, but the cache is gone
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    without = run_wdh("resolve", str(source), "--output", str(tmp_path / "a.csv"), env=env)
    assert without.returncode == 0 and "going on without it" in without.stderr
    strict = run_wdh(
        "resolve", str(source), "--require-db", "--output", str(tmp_path / "b.csv"), env=env
    )
    assert strict.returncode == 1, strict.stderr
    assert "--require-db" in strict.stderr and "Traceback" not in strict.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "in.csv"]


def test_deeply_nested_yaml_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    overrides = tmp_path / "mappings"
    overrides.mkdir()
    deep = overrides / "company_id_overrides_plan.yml"
    deep.write_text("P0: A\nP1: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    env = wdh_env(WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(overrides))
    checked = run_wdh("mappings", "check", env=env)
    assert checked.returncode == 3
    assert f"{deep}:2: nested too deeply" in checked.stdout
    source = tmp_path / "in.csv"
    source.write_text("客户名称\n甲公司\n", encoding="utf-8")
    resolved = run_wdh("resolve", str(source), "--offline", env=env)
    assert resolved.returncode == 2 and "RecursionError" not in resolved.stderr
    assert f"{deep}:2: nested too deeply" in resolved.stderr


def test_a_nul_byte_in_one_cell_does_not_switch_the_database_off(
    db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.company_mapping "
            "(alias_name, canonical_id, match_type, priority) VALUES ('P0190', 'C-PLAN', 'plan', 1)"
        )
    source = tmp_path / "nul.csv"
    source.write_bytes(
        "计划代码,客户名称,公司代码\nP1,A\x00B有限公司,\nP0190,某公司,\nP2,丙公司,C\x00X\n"
        "P3,丁公司,\n".encode()
    )
    env = wdh_env(WDH_DATABASE_URL=db_url, WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    for extra in ((), ("--require-db",)):
        result = run_wdh("resolve", str(source), "--json", *extra, env=env)
        assert result.returncode == 0, result.stderr
        assert '"db_available": true' in result.stdout
        assert "failed" not in result.stderr  # no database step failed
    rows = (tmp_path / "nul.resolved.csv").read_text(encoding="utf-8").splitlines()
    assert rows[2].endswith(",C-PLAN,db:plan")  # the valid row still hits the cache
    assert rows[1].split(",")[-1] == "temp"  # the NUL name: a temporary ID, never queued
    # An existing-ID cell holding a NUL is no company ID: its row goes on to a temporary ID.
    assert rows[3].split(",")[-1] == "temp"
    with psycopg.connect(db_url) as conn:
        queued = conn.execute(
            "SELECT raw_name FROM enterprise.enrichment_requests ORDER BY raw_name"
        ).fetchall()
        mapped = conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone()
    assert queued == [("丁公司",), ("丙公司",)]  # the valid names; the NUL one cannot be queued
    assert mapped == (1,)  # nothing learned from the NUL ID
