"""The two writers, atomic_text_file and resolve's OutputTable: whole or absent.

Errors name the path.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path
from typing import Any

import pytest

from wdh_cli.errors import InputFileError, OutputFileError
from wdh_cli.files import atomic_text_file
from wdh_cli.tabular.output import OutputTable
from wdh_cli.tabular.sheets import InputTable


def _table(tmp_path: Path, fmt: str) -> InputTable:
    return InputTable(tmp_path / f"in.{fmt}", fmt, ["客户名称"], iter([]))


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with (
        pytest.raises(OutputFileError, match=r"out\.csv: cannot write \(No space left on device\)"),
        atomic_text_file(target) as handle,
    ):
        handle.write("new, half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_output_table_write_failure_is_an_output_error_and_discards(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / f"out.{fmt}"
    writer = OutputTable(target, _table(tmp_path, fmt), ["客户名称", "company_id"])

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    if fmt == "csv":
        monkeypatch.setattr(writer, "_csv", type("W", (), {"writerows": staticmethod(full)})())
    else:
        monkeypatch.setattr(writer._sheet._sheet, "write_row", full)  # type: ignore[union-attr]
    with pytest.raises(OutputFileError, match="No space left on device"), writer:
        writer.write(["甲", "C1", "yaml:name"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_discarded_output_leaves_nothing(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"  # where XlsxWriter streams rows in constant-memory mode
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    table = _table(tmp_path, fmt)
    with (
        pytest.raises(KeyboardInterrupt),
        OutputTable(out / f"o.{fmt}", table, table.header) as writer,
    ):
        writer.write(["甲", "C1"])
        raise KeyboardInterrupt
    assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []


def test_an_xlsx_row_wider_than_a_sheet_is_an_input_error(tmp_path: Path) -> None:
    table = _table(tmp_path, "xlsx")
    wide = r"row 7 has 16,385 cells .* \(16,384\)"
    target = tmp_path / "out.xlsx"
    with pytest.raises(InputFileError, match=wide), OutputTable(target, table, ["x"]) as writer:
        writer.write(["x"] * 16_385, 7)
    assert [p.name for p in tmp_path.iterdir()] == []
