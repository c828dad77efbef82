"""Hostile input files given to the installed `wdh resolve`: a one-line error naming the
place, the right exit code and no output, or a complete output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
import xlsxwriter

from tests.helpers import WDH, one_line_error, run_wdh, wait_until, wdh_env
from wdh_cli.tabular.sheet_writer import WRITER_PROCESS_ROWS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("final_break", [True, False], ids=["ends-with-break", "no-final-break"])
def test_an_unclosed_quote_names_the_line_it_opens_on_whatever_the_line_ends(
    tmp_path: Path, end: str, final_break: bool
) -> None:
    """Found by a hostile pass: with bare carriage returns the line named was one too far
    (the fed line feed after the file's last CR was counted with it as one CRLF)."""
    lines = ["计划代码,客户名称", "P1,甲公司", 'P2,"乙公司', "P3,丙公司", "P4,丁公司"]
    source = tmp_path / "in.csv"
    source.write_bytes((end.join(lines) + (end if final_break else "")).encode())
    env = wdh_env(WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    result = run_wdh("resolve", str(source), "--offline", env=env)
    one_line_error(result, 2, f"{source}: line 3: a quoted cell starts here and is never closed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output


def _pending_output_size(pid: int, folder: Path) -> int:
    """Bytes written so far to the run's output (open without a name until it is whole)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(f"{folder}/#"):  # O_TMPFILE: "/dir/#inode (deleted)"
                return fd.stat().st_size
    return 0


def test_rows_added_while_the_output_is_written_are_an_error_not_unresolved_rows(
    tmp_path: Path,
) -> None:
    """Found by a hostile pass: a row appended to the input during the last pass (the one
    that writes the output) was written as `unresolved`, exit 0; the engine never saw it."""
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8") as handle:
        handle.write("计划代码,客户名称\n")
        handle.writelines(f"P{n % 97},客户{n % 5000}有限公司\n" for n in range(1_200_000))
    env = wdh_env(WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path))
    child = subprocess.Popen(
        [WDH, "resolve", str(source), "--offline"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The header is written when the output opens; rows only in the last pass.
        wait_until(
            lambda: child.poll() is not None or _pending_output_size(child.pid, tmp_path) > 1000,
            "the output's rows",
        )
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGSTOP)
        with source.open("a", encoding="utf-8") as handle:
            handle.write("P1,新来的有限公司\n")
        child.send_signal(signal.SIGCONT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    result = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    one_line_error(result, 2, f"{source}: the file changed while wdh was reading it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output


def _full_disk_can_be_mounted(tmp_path: Path) -> bool:
    """A tmpfs can be mounted in a user and mount namespace of our own (no root needed)."""
    folder = tmp_path / "probe-mount"
    folder.mkdir()
    try:
        tried = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-root-user",
                "--mount",
                "sh",
                "-c",
                'mount -t tmpfs -o size=64k tmpfs "$1"',
                "sh",
                str(folder),
            ],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        folder.rmdir()
    return tried.returncode == 0


@pytest.mark.parametrize("rows", [3_000, WRITER_PROCESS_ROWS], ids=["in-process", "writer-process"])
def test_an_xlsx_output_on_a_full_disk_is_one_line_and_leaves_no_scratch_files(
    tmp_path: Path, rows: int
) -> None:
    """Found by a hostile pass: with the output's disk full when XlsxWriter assembled the
    workbook, wdh left XlsxWriter's parts (10 MB for 25,000 rows) in the temporary
    directory, and the in-process writer printed a traceback ("Exception ignored in
    ZipFile.__del__") after the one-line error."""
    if not _full_disk_can_be_mounted(tmp_path):
        pytest.skip("no user namespace to mount a small tmpfs in")
    source = tmp_path / "in.xlsx"
    book = xlsxwriter.Workbook(str(source), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["计划代码", "客户名称", "备注"])
    for n in range(rows):
        sheet.write_row(n + 1, 0, [f"P{n % 97}", f"客户{n % 500}有限公司", f"{n * 7919:x}" * 8])
    book.close()
    full = tmp_path / "full"  # a 64 KiB tmpfs, in the command's own mount namespace
    full.mkdir()
    scratch = tmp_path / "scratch"  # the temporary directory (TMPDIR) of wdh and its writer
    scratch.mkdir()
    left = tmp_path / "left.txt"  # what the full disk holds after the run
    output = full / "out.xlsx"
    env = wdh_env(WDH_ALIAS_SALT="s", WDH_MAPPINGS_DIR=str(tmp_path), TMPDIR=str(scratch))
    script = (
        'disk=$1; mount -t tmpfs -o size=64k tmpfs "$disk" || exit 99; shift; '
        '"$@"; code=$?; ls -A "$disk" > "$0"; exit $code'
    )
    result = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            str(left),
            str(full),
            WDH,
            "resolve",
            str(source),
            "--offline",
            "--output",
            str(output),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    one_line_error(result, 2, f"{output}: cannot write (No space left on device)")
    assert left.read_text() == ""  # no output, whole or part
    assert list(scratch.iterdir()) == []  # no part of the workbook left behind
