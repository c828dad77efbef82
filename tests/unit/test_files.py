"""The writers of outputs, atomic_text_file and resolve's CsvOutput and SheetOutput: whole or
absent. Errors name the path.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wdh_cli.errors import InputFileError, OutputFileError
from wdh_cli.files import PendingFile, atomic_text_file
from wdh_cli.tabular import output
from wdh_cli.tabular.output import CsvOutput, OutputLayout, SheetOutput

HEADER = ["客户名称"]
LAYOUT = OutputLayout(HEADER, None, None, ("company_id", "company_id_source"))


def _output(tmp_path: Path, target: Path) -> CsvOutput | SheetOutput:
    if target.suffix == ".csv":
        return CsvOutput(target, "utf-8", LAYOUT)
    return SheetOutput(target, tmp_path / "in.xlsx", HEADER, 0, LAYOUT, rows=1, header_row=1)


def _write(writer: CsvOutput | SheetOutput, number: int = 2) -> None:
    if isinstance(writer, CsvOutput):
        answers = pl.DataFrame({"company_id": ["C1"], "company_id_source": ["yaml:name"]})
        writer.write_frame(pl.DataFrame({"c0": ["甲"]}), answers)
    else:
        writer.write_rows([LAYOUT.row(["甲"], "C1", "yaml:name")], [number])


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
    writer = _output(tmp_path, target)

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    if isinstance(writer, CsvOutput):
        monkeypatch.setattr(output.os, "write", full)
    else:
        monkeypatch.setattr(writer._sheet._sheet, "write_row", full)  # type: ignore[union-attr]
    with pytest.raises(OutputFileError, match=f"out.{fmt}: cannot write .No space left"), writer:
        _write(writer)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_discarded_output_leaves_nothing(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"  # where XlsxWriter streams rows in constant-memory mode
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), _output(tmp_path, out / f"o.{fmt}") as writer:
        _write(writer)
        raise KeyboardInterrupt
    assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []


def test_an_xlsx_row_wider_than_a_sheet_is_an_input_error(tmp_path: Path) -> None:
    wide = r"row 7 has 16,385 cells .* \(16,384\)"
    target = tmp_path / "out.xlsx"
    with pytest.raises(InputFileError, match=wide), _output(tmp_path, target) as writer:
        assert isinstance(writer, SheetOutput)
        writer.write_rows([["x"] * 16_385], [7])
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_pending_file_has_no_name_until_its_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    pending = PendingFile(target)
    with open(pending.path, "w") as handle:  # opened by name, as XlsxWriter does
        handle.write("new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # nothing but the old file
    pending.commit()
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
