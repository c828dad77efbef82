"""The xlsx writer process: the same cells as writing here, its errors raised here, no leftovers.

A large sheet is written by a child process (wdh_cli.tabular.sheet_writer);
these tests force it on small sheets with writer_process_rows=0.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from wdh_cli.errors import EXIT_FAILED, InputFileError
from wdh_cli.tabular.cell_errors import CellError
from wdh_cli.tabular.child import ChildGone
from wdh_cli.tabular.output import OutputLayout, SheetOutput
from wdh_cli.tabular.sheet_writer import XLSX_MAX_STRING, SheetProcess

IN_PROCESS = 1 << 30  # a threshold no test sheet reaches
CHILD = 0  # every sheet goes to the child


HEADER = ["客户名称", "规模", "日期"]


def _output(
    tmp_path: Path,
    target: Path,
    threshold: int,
    header: list[str] = HEADER,
    warn: Any = lambda message: None,
) -> SheetOutput:
    """The xlsx output of an input with `header` (its cells written as they come)."""
    layout = OutputLayout(header, 0, 0, (header[0], header[0]))  # the header as it is
    return SheetOutput(
        target,
        tmp_path / "in.xlsx",
        header,
        0,
        layout,
        rows=1,
        header_row=1,
        warn=warn,
        writer_process_rows=threshold,
    )


def _rows() -> list[list[Any]]:
    """Every type calamine reads, a cell too long for Excel, and an error cell."""
    long = "长" * (XLSX_MAX_STRING + 5)
    return [
        ["甲公司", 1.5, dt.datetime(2026, 11, 24, 8, 30)],
        ["=1+1", 3, dt.date(2026, 1, 2)],
        ["http://example.com", True, dt.time(7, 15)],
        [CellError("#N/A"), -0.0, dt.timedelta(hours=36)],
        [long, "", None],
        ["乙", 2, "x", "beyond the header"],
    ]


def _write(tmp_path: Path, name: str, threshold: int) -> tuple[list[list[Any]], list[str]]:
    warnings: list[str] = []
    target = tmp_path / name
    with _output(tmp_path, target, threshold, warn=warnings.append) as writer:
        rows = _rows()
        writer.write_rows(rows[:3], [2, 3, 4])
        writer.write_rows(rows[3:], [5, 6, 7])
        writer.commit()
    sheet = CalamineWorkbook.from_path(str(target)).get_sheet_by_index(0)
    return sheet.to_python(), warnings


def test_the_child_writes_the_same_cells_and_warnings_as_this_process(tmp_path: Path) -> None:
    here, here_warnings = _write(tmp_path, "here.xlsx", IN_PROCESS)
    there, there_warnings = _write(tmp_path, "there.xlsx", CHILD)
    assert there == here
    assert there[0] == ["客户名称", "规模", "日期", ""]  # the header, then the rows
    assert there[4][0] == "#N/A" and there[2][0] == "=1+1"
    assert len(there[5][0]) == XLSX_MAX_STRING
    assert there_warnings == here_warnings
    assert len(there_warnings) == 1 and "row 6, column '客户名称' (A)" in there_warnings[0]


def test_a_row_too_wide_in_the_child_is_the_same_input_error(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    with (
        pytest.raises(InputFileError, match=r"in\.xlsx: row 7 has 16,385 cells .* \(16,384\)"),
        _output(tmp_path, target, CHILD, ["x"]) as writer,
    ):
        writer.write_rows([["x"] * 16_385], [7])
        writer.commit()  # the child's error comes back here at the latest
    assert list(tmp_path.iterdir()) == []


def test_a_row_too_wide_stops_the_writes_that_follow(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    with (
        pytest.raises(InputFileError, match="row 7 has 16,385 cells"),
        _output(tmp_path, target, CHILD, ["x"]) as writer,
    ):
        writer.write_rows([["x"] * 16_385], [7])
        for number in range(8, 100_000):  # the child is gone: a write meets the broken pipe
            writer.write_rows([["y" * 1000] * 10] * 50, [number] * 50)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_child_is_a_one_line_error_naming_the_output(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    with (
        pytest.raises(ChildGone, match=r"^the process writing .*out\.xlsx was ended by signal 9$"),
        _output(tmp_path, target, CHILD, ["x"]) as writer,
    ):
        assert isinstance(writer._sheet, SheetProcess)
        os.kill(writer._sheet._child.process.pid, signal.SIGKILL)
        writer._sheet._child.process.wait()
        writer.write_rows([["甲"]], [2])
        writer.commit()
    assert list(tmp_path.iterdir()) == []
    assert ChildGone("x").exit_code == EXIT_FAILED


def test_a_discarded_output_leaves_nothing_in_either_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"  # where XlsxWriter streams rows in constant-memory mode
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the child's temporary files go here
    out = tmp_path / "out"
    with (
        pytest.raises(KeyboardInterrupt),
        _output(tmp_path, out / "o.xlsx", CHILD, ["x"]) as writer,
    ):
        assert isinstance(writer._sheet, SheetProcess)
        child = writer._sheet._child.process
        writer.write_rows([["甲", 1]] * 1000, list(range(2, 1002)))
        raise KeyboardInterrupt
    assert child.poll() is not None
    assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []


def test_the_child_drops_its_file_when_wdh_vanishes(tmp_path: Path) -> None:
    """wdh killed outright: the child reads the end of its input and removes its scratch."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    os.environ["TMPDIR"] = str(scratch)
    try:
        process = SheetProcess(str(tmp_path / "o.xlsx"), tmp_path / "o.xlsx")
    finally:
        del os.environ["TMPDIR"]
    process.write_rows([["甲"]] * 10, list(range(10)))
    process._child._to.close()  # what the kernel does for a killed wdh
    assert process._child.process.wait(timeout=30) == 0
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "o.xlsx").exists()
