"""The CSV process: batches out, answers in, rows written in order; its errors are wdh's.

The golden tests (test_resolve_golden.py) hold a whole run through it to the
pinned bytes; these drive it directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wdh_cli.errors import InputFileError, OutputFileError
from wdh_cli.resolve.csv_process import CsvProcess, Job

PICKS: list[int | None] = [None, 1, 0, None, None]  # name in column 0, account in 1


def _job(source: Path, target: Path | None, tmp: Path | None, batch: int = 2) -> Job:
    return Job(source, "utf-8", PICKS, batch, "company_id", "company_id_source", target, tmp)


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "in.csv"
    source.write_text("客户名称,年金账户号\n甲,A1\n乙,A2\n甲,A1\n\n丙\n甲,A1\n", encoding="utf-8")
    return source


def test_batches_carry_distinct_tuples_and_rows_are_written_with_their_answers(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.csv"
    process = CsvProcess(_job(_source(tmp_path), out, out))
    seen = []
    for batch in process.batches():
        seen.append((batch.keys, batch.counts, batch.rows))
        process.answer([[f"ID-{key}", "temp"] for key in batch.keys])
    process.finish()
    # Batches of 2 rows; the blank line is no row; the short row is padded.
    assert seen == [
        (["A1\x00甲", "A2\x00乙"], [1, 1], 2),
        (["A1\x00甲", "\x00丙"], [1, 1], 2),
        (["A1\x00甲"], [1], 1),
    ]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "客户名称,年金账户号,company_id,company_id_source"
    assert lines[1:] == [
        "甲,A1,ID-A1\x00甲,temp",
        "乙,A2,ID-A2\x00乙,temp",
        "甲,A1,ID-A1\x00甲,temp",
        "丙,,ID-\x00丙,temp",
        "甲,A1,ID-A1\x00甲,temp",
    ]


def test_an_input_gone_before_the_child_reads_it_is_an_input_error(tmp_path: Path) -> None:
    process = CsvProcess(_job(tmp_path / "gone.csv", None, None))
    with pytest.raises(InputFileError, match=r"gone\.csv: cannot read \(No such file"):
        list(process.batches())


def test_a_full_disk_in_the_child_is_an_output_error_naming_the_output(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    process = CsvProcess(_job(_source(tmp_path), target, Path("/dev/full"), batch=1000))
    with pytest.raises(
        OutputFileError, match=r"out\.csv: cannot write \(No space left on device\)"
    ):
        for batch in process.batches():
            process.answer([["C", "temp"]] * len(batch.keys))
        process.finish()
    process.abandon()
